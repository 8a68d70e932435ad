"""Random histories for the property tests: operations through the application service,
withholding decisions and erasures included, and what today's decisions withhold
(worked out from the aggregates, independently of the projections).

An operation is (kind, a, b, flag): `a` and `b` pick a thread, an author, a comment, a
revision (meaning by kind). Commands the domain refuses record nothing and are simply
skipped, and so are commands by an erased author (an erased account cannot sign in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from hypothesis import strategies as st

from domain.application import Discussions
from domain.errors import DomainError
from domain.model import HIDDEN, MODERATOR, OPERATOR_ID, RETRACTED

# Small numbers: operations keep coming back to the same few (recent) comments.
pick = st.integers(min_value=0, max_value=3)
# Replies, edits and decisions are the most frequent, as in a moderated thread.
KINDS = [
    "post",
    "post",
    "reply",
    "reply",
    "reply",
    "edit",
    "edit",
    "retract",
    "hide",
    "hide",
    "restore",
    "suppress",
    "suppress",
    "unsuppress",
    "erase_revision",
    "erase_comment",
    "erase_author",
    "lock",
    "unlock",
    "unlock",
    "retitle",
    "open",
]
ERASURES = ["erase_revision", "erase_comment", "erase_author"]
operation = st.tuples(st.sampled_from(KINDS), pick, pick, st.booleans())
erasure = st.tuples(st.sampled_from(ERASURES), pick, pick, st.booleans())
# What a suppression withholds: (text, edit reason).
SUPPRESSIONS = [(True, False), (False, True), (True, True)]
BASES = ["personal_data", "legal", "author_request", "operator"]


class Skipped(Exception):
    """The operation's actor is erased: it cannot act any more."""


@dataclass
class History:
    """What the operations did: thread ids, and every revision's plaintext by comment."""

    threads: list[str] = field(default_factory=list)
    authors: list[UUID] = field(default_factory=list)
    moderator: UUID | None = None
    comments: list[tuple[UUID, UUID]] = field(default_factory=list)  # (comment, thread)
    texts: dict[str, dict[int, str]] = field(default_factory=dict)  # comment -> rev -> text
    erased_authors: set[UUID] = field(default_factory=set)
    kinds: list[str] = field(default_factory=list)  # of the operations that were recorded
    operations: int = 0  # tried so far: numbers the texts, which are all different

    def recent(self, i: int) -> tuple[UUID, UUID]:
        return self.comments[-1 - i % len(self.comments)]


def run(
    app: Discussions,
    ops,
    after: Callable[[int], None] | None = None,
    history: History | None = None,
) -> History:
    """Apply the operations (continuing `history` if given); `after(n)` runs after each."""
    h = history
    if h is None:
        h = History()
        names = ["Ann", "Bob", "Cy"]
        h.authors = [app.register_author(name).author_id for name in names]
        h.moderator = app.register_author("Mo", role=MODERATOR).author_id
        h.threads = [str(app.open_thread(OPERATOR_ID, "Property").thread_id)]
    mo = h.moderator
    everyone = [*h.authors, mo]

    def live(actor: UUID) -> UUID:
        if actor in h.erased_authors:
            raise Skipped
        return actor

    for i, (kind, a, b, flag) in enumerate(ops):
        n = h.operations = h.operations + 1
        thread = UUID(h.threads[a % len(h.threads)])
        try:
            done = _apply(app, h, live, everyone, mo, n, thread, kind, a, b, flag)
        except (DomainError, Skipped):
            done = False  # refused: nothing recorded
        if done:
            h.kinds.append(kind)
        if after is not None:
            after(i)
    return h


def _apply(app, h: History, live, everyone, mo, n, thread, kind, a, b, flag) -> bool:
    comments = h.comments
    if kind == "post" or (kind == "reply" and not comments):
        text = f"post {n}"
        posted = app.post_comment(live(everyone[b % len(everyone)]), thread, text)
        comments.append((posted.comment_id, thread))
        h.texts[str(posted.comment_id)] = {1: text}
        return True
    if kind == "open":
        if len(h.threads) >= 3:
            return False
        h.threads.append(str(app.open_thread(OPERATOR_ID, f"Thread {n}").thread_id))
        return True
    if kind == "lock":
        app.lock_thread(mo, thread, "locked")
        if not flag:  # locked for one event only: posts stay possible
            app.unlock_thread(mo, thread)
        return True
    if kind == "unlock":
        app.unlock_thread(mo, thread)
        return True
    if kind == "retitle":
        app.retitle_thread(mo, thread, f"Title {n}")
        return True
    if kind == "erase_author":
        author = h.authors[b % len(h.authors)]
        if flag:
            app.erase_author(OPERATOR_ID, author, "operator")
        else:  # the author themself
            app.erase_author(live(author), author, "author_request")
        h.erased_authors.add(author)
        return True
    if not comments:
        return False
    comment, comment_thread = h.recent(a)
    if kind in ("restore", "unsuppress"):  # mostly one that can be: hidden, suppressed
        can = [c for c, _ in comments if _restorable(app.get_comment(c), kind)]
        if can:
            comment = can[-1 - a % len(can)]
    if kind == "reply":
        text = f"reply {n}"
        author = live(everyone[a % len(everyone)])
        posted = app.post_comment(author, comment_thread, text, parent_id=comment)
        comments.append((posted.comment_id, comment_thread))
        h.texts[str(posted.comment_id)] = {1: text}
        return True
    aggregate = app.get_comment(comment)
    own = aggregate.author_id if b % 2 else mo  # the comment's author or a moderator
    revisions = aggregate.revisions
    revision = revisions[-1 - b % len(revisions)]  # mostly the latest
    if kind == "edit":
        text = f"edit {n}\nsecond line"
        reason = f"edit reason {n}" if flag else None
        changed = app.edit_comment(live(own), comment, text, reason=reason)
        h.texts[str(comment)][changed.version] = text
    elif kind == "retract":
        app.retract_comment(live(own), comment, f"changed my mind {n}" if flag else None)
    elif kind == "hide":
        app.hide_comment(mo, comment, f"hidden {n}")
    elif kind == "restore":
        app.restore_comment(mo, comment, f"restored {n}" if flag else None)
    elif kind == "suppress":
        text, edit_reason = SUPPRESSIONS[(b + int(flag)) % len(SUPPRESSIONS)]
        reason = f"suppressed {n}" if flag else None
        app.suppress_revision(
            mo, comment, revision, text=text, edit_reason=edit_reason, reason=reason
        )
    elif kind == "unsuppress":
        suppressed = sorted(aggregate.suppressed) or [revision]  # none: refused
        revision = suppressed[b % len(suppressed)]
        app.unsuppress_revision(mo, comment, revision, f"unsuppressed {n}" if flag else None)
    elif kind == "erase_revision":
        app.erase_revision(mo, comment, revision, BASES[b % len(BASES)])
    elif kind == "erase_comment":
        app.erase_comment(mo, comment, BASES[b % len(BASES)])
    else:
        raise AssertionError(kind)
    return True


def _restorable(aggregate, kind: str) -> bool:
    if kind == "restore":
        return aggregate.state == HIDDEN and not aggregate.erased
    return bool(aggregate.suppressed)


# ---- what today's decisions withhold on thread pages --------------------------------


@dataclass(frozen=True)
class Withheld:
    """For one comment and one viewer: is everything withheld (text and author), and
    which revisions' texts are."""

    whole: bool
    texts: frozenset[str]
    known: frozenset[str]  # every revision's text


def withheld_today(app: Discussions, h: History, moderator: bool) -> dict[str, Withheld]:
    """From the aggregates as they are now: erased (the comment or its author) or
    retracted, nobody sees it on a thread page; hidden, moderators only; an erased
    revision's text nobody; a suppressed revision's text moderators only. A comment
    retracted while hidden is retracted: nobody sees it on a thread page."""
    found = {}
    for cid, texts in h.texts.items():
        c = app.get_comment(UUID(cid))
        whole = c.erased or c.state == RETRACTED or (c.state == HIDDEN and not moderator)
        withheld = {
            text
            for revision, text in texts.items()
            if whole
            or revision in c.erased_revisions
            or (not moderator and c.suppressed.get(revision, (False, False))[0])
        }
        found[cid] = Withheld(whole, frozenset(withheld), frozenset(texts.values()))
    return found


def check_withheld(page: dict | None, withheld: dict[str, Withheld]) -> None:
    """No comment node of the page shows what today's decisions withhold."""
    if page is None:
        return
    stack = list(page["comments"])
    while stack:
        node = stack.pop()
        stack.extend(node["replies"])
        w = withheld[node["id"]]
        if w.whole:
            assert node["text"] is None and node["author"] is None, node
            assert node["placeholder"], node
        if node["text"] is not None:
            assert node["text"] in w.known, node
            assert node["text"] not in w.texts, node
