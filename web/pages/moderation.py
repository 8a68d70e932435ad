"""Moderators: remove (hide) a comment with a reason, restore it, erase it for good
(a takedown), suppress, unsuppress or erase one revision of it, lock and unlock a
thread, and read the audit log."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

from flask import g, redirect, render_template, request, url_for

from domain.errors import DomainError
from projections import queries, visibility
from web.pages import bp, forms
from web.pages.args import page_args
from web.pages.common import (
    application,
    engine,
    is_moderator,
    resolve_thread,
    thread_url,
    viewer,
    write_limits,
    wrote,
)
from web.pages.errors import error_page
from web.pages.locate import numbers
from web.pages.posting import (
    action_page,
    comment_and_thread,
    go_to_comment,
    run_comment_action,
    sign_in_first,
)
from web.schemas_pages import CursorQuery


def _moderator_or_refusal():
    author = viewer()
    if author is None:
        return None, sign_in_first()
    if not author.is_moderator:
        return None, error_page(403, "Only a moderator may do this.")
    return author, None


# ---- hide and restore a comment ----------------------------------------------------


@bp.route("/c/<uuid:comment_id>/hide", methods=["GET", "POST"])
@write_limits
def hide(comment_id: UUID):
    author, refusal = _moderator_or_refusal()
    if refusal is not None:
        return refusal
    comment, thread, number = comment_and_thread(str(comment_id))
    form = forms.Form(
        action=url_for("pages.hide", comment_id=comment_id),
        submit="Remove comment",
        fields=[forms.reason(required=True, label="Reason (required, kept in the audit log)")],
        cancel=url_for("pages.comment_permalink", comment_id=comment_id),
        danger=True,
        id=f"hide-{comment_id}",
    )
    done, status = run_comment_action(
        form,
        comment_id,
        thread,
        lambda: application().hide_comment(author.id, comment_id, forms.posted("reason")),
    )
    if done is not None:
        return done
    intro = (
        "Readers will see “removed by a moderator” in its place; its replies stay."
        " Moderators can still read it and restore it."
    )
    return action_page(
        f"Remove comment {number}", form, comment, thread, number, status=status, intro=intro
    )


@bp.route("/c/<uuid:comment_id>/restore", methods=["GET", "POST"])
@write_limits
def restore(comment_id: UUID):
    author, refusal = _moderator_or_refusal()
    if refusal is not None:
        return refusal
    comment, thread, number = comment_and_thread(str(comment_id))
    form = forms.Form(
        action=url_for("pages.restore", comment_id=comment_id),
        submit="Restore comment",
        fields=[forms.reason(label="Reason (optional, kept in the audit log)")],
        cancel=url_for("pages.comment_permalink", comment_id=comment_id),
        id=f"restore-{comment_id}",
    )
    done, status = run_comment_action(
        form,
        comment_id,
        thread,
        lambda: application().restore_comment(author.id, comment_id, forms.optional("reason")),
    )
    if done is not None:
        return done
    return action_page(f"Restore comment {number}", form, comment, thread, number, status=status)


# ---- erase a comment, or one revision; suppress and unsuppress a revision ----------

ERASE_COMMENT_POINTS = (
    "The text of every version of this comment, and every reason given for its edits, is"
    " destroyed for good: nobody can read it again, moderators and the operator"
    " included. This cannot be undone.",
    "Its replies stay where they are, under an “erased” placeholder.",
    "The erasure is listed publicly: that a comment was erased, when, by whom and on"
    " which basis, never what it said.",
)


def confirm_page(title: str, crumbs: list, form: forms.Form | None, **more):
    status: int = more.pop("status", 200)
    return render_template("confirm.html", title=title, crumbs=crumbs, form=form, **more), status


def _crumbs(thread: dict, comment_id: UUID, number: str, history: bool = False) -> list:
    crumbs = [
        (thread["title"], thread_url(thread)),
        (f"Comment {number}", url_for("pages.comment_permalink", comment_id=comment_id)),
    ]
    if history:
        crumbs.append(("History", url_for("pages.history", comment_id=comment_id)))
    return crumbs


def _after_revision_change(comment_id: UUID, revision: int, position: int):
    wrote(position)
    return redirect(url_for("pages.history", comment_id=comment_id) + f"#v{revision}")


@bp.route("/c/<uuid:comment_id>/erase", methods=["GET", "POST"])
@write_limits
def erase(comment_id: UUID):
    author, refusal = _moderator_or_refusal()
    if refusal is not None:
        return refusal
    comment, thread, number = comment_and_thread(str(comment_id))
    form = forms.Form(
        action=url_for("pages.erase", comment_id=comment_id),
        submit="Erase for good",
        fields=[forms.basis()],
        cancel=url_for("pages.comment_permalink", comment_id=comment_id),
        danger=True,
        id=f"erase-{comment_id}",
    )
    if comment["state"] == "erased":
        form.error = "This comment is erased already: there is nothing left to erase."
    status = 200
    if request.method == "POST":
        form.fill_from_request()
        try:
            changed = application().erase_comment(author.id, comment_id, forms.posted("basis"))
        except DomainError as error:
            status = form.fail(error)
        else:
            return go_to_comment(str(comment_id), changed.position, thread)
    return confirm_page(
        f"Erase comment {number}",
        _crumbs(thread, comment_id, number),
        form,
        points=ERASE_COMMENT_POINTS,
        comment=comment,
        number=number,
        thread=thread,
        status=status,
    )


def _revision_or_refusal(comment_id: UUID, revision: int):
    """(moderator, the comment aggregate, its thread and number) or (None, refusal). An
    unknown comment or revision is a 404 page."""
    author, refusal = _moderator_or_refusal()
    if refusal is not None:
        return None, refusal
    aggregate = application().get_comment(comment_id)
    aggregate.check_revision(revision)
    _, thread, number = comment_and_thread(str(comment_id))
    return (author, aggregate, thread, number), None


@bp.route("/c/<uuid:comment_id>/revisions/<int:revision>/erase", methods=["GET", "POST"])
@write_limits
def erase_revision(comment_id: UUID, revision: int):
    found, refusal = _revision_or_refusal(comment_id, revision)
    if refusal is not None:
        return refusal
    author, aggregate, thread, number = found
    form = forms.Form(
        action=url_for("pages.erase_revision", comment_id=comment_id, revision=revision),
        submit=f"Erase version {revision} for good",
        fields=[forms.basis()],
        cancel=url_for("pages.history", comment_id=comment_id) + f"#v{revision}",
        danger=True,
        id=f"erase-{comment_id}-{revision}",
    )
    if aggregate.erased or revision in aggregate.erased_revisions:
        form.error = f"Version {revision} is erased already: there is nothing left to erase."
    done, status = _post_revision_change(
        form,
        comment_id,
        revision,
        lambda: application().erase_revision(
            author.id, comment_id, revision, forms.posted("basis")
        ),
    )
    if done is not None:
        return done
    points = (
        f"The text of version {revision} and the reason given for it are destroyed for"
        " good: nobody can read them again, moderators included. This cannot be undone.",
        "The other versions stay as they are. Where this version is the one a thread"
        " shows, readers see an “erased” placeholder instead.",
        "The erasure is listed publicly: which version, when, by whom and on which"
        " basis, never what it said.",
    )
    return confirm_page(
        f"Erase version {revision} of comment {number}",
        _crumbs(thread, comment_id, number, history=True),
        form,
        points=points,
        status=status,
    )


def _post_revision_change(form, comment_id: UUID, revision: int, command):
    """On a POST, run `command()` (it reads the posted fields): (the page after it, 200),
    or (None, the status of the form showing why it was refused). (None, 200) on a GET."""
    if request.method != "POST":
        return None, 200
    form.fill_from_request()
    try:
        changed = command()
    except DomainError as error:
        return None, form.fail(error)
    return _after_revision_change(comment_id, revision, changed.position), 200


def _suppressed_now(aggregate, revision: int) -> str | None:
    parts = aggregate.suppressed.get(revision)
    if not parts:
        return None
    words = [w for w, on in zip(("its text", "its edit reason"), parts, strict=True) if on]
    return " and ".join(words)


@bp.route("/c/<uuid:comment_id>/revisions/<int:revision>/suppress", methods=["GET", "POST"])
@write_limits
def suppress_revision(comment_id: UUID, revision: int):
    found, refusal = _revision_or_refusal(comment_id, revision)
    if refusal is not None:
        return refusal
    author, aggregate, thread, number = found
    form = forms.Form(
        action=url_for("pages.suppress_revision", comment_id=comment_id, revision=revision),
        submit=f"Suppress version {revision}",
        fields=[
            forms.checkbox("text", f"Withhold the text of version {revision}", checked=True),
            forms.checkbox("edit_reason", "Withhold the reason given for this version"),
            forms.reason(label="Reason (optional, for moderators: kept in the audit log)"),
        ],
        cancel=url_for("pages.history", comment_id=comment_id) + f"#v{revision}",
        danger=True,
        id=f"suppress-{comment_id}-{revision}",
    )
    now = _suppressed_now(aggregate, revision)
    intro = f"Version {revision} is suppressed now: {now}." if now else None
    done, status = _post_revision_change(
        form,
        comment_id,
        revision,
        lambda: application().suppress_revision(
            author.id,
            comment_id,
            revision,
            text=forms.ticked("text"),
            edit_reason=forms.ticked("edit_reason"),
            reason=forms.optional("reason"),
        ),
    )
    if done is not None:
        return done
    points = (
        "Everyone but moderators will see “withheld by a moderator” in place of what you"
        " tick, in the thread (live and in every past view), in the history and in exports.",
        "Moderators can still read it, and can lift the suppression later: nothing is"
        " destroyed. The other versions stay readable.",
        "The audit log lists the suppression, without its content.",
    )
    return confirm_page(
        f"Suppress version {revision} of comment {number}",
        _crumbs(thread, comment_id, number, history=True),
        form,
        points=points,
        intro=intro,
        status=status,
    )


@bp.route("/c/<uuid:comment_id>/revisions/<int:revision>/unsuppress", methods=["GET", "POST"])
@write_limits
def unsuppress_revision(comment_id: UUID, revision: int):
    found, refusal = _revision_or_refusal(comment_id, revision)
    if refusal is not None:
        return refusal
    author, aggregate, thread, number = found
    form = forms.Form(
        action=url_for("pages.unsuppress_revision", comment_id=comment_id, revision=revision),
        submit=f"Unsuppress version {revision}",
        fields=[forms.reason(label="Reason (optional, for moderators: kept in the audit log)")],
        cancel=url_for("pages.history", comment_id=comment_id) + f"#v{revision}",
        id=f"unsuppress-{comment_id}-{revision}",
    )
    now = _suppressed_now(aggregate, revision)
    if now is None:
        form.error = f"Version {revision} is not suppressed."
    done, status = _post_revision_change(
        form,
        comment_id,
        revision,
        lambda: application().unsuppress_revision(
            author.id, comment_id, revision, forms.optional("reason")
        ),
    )
    if done is not None:
        return done
    intro = (
        f"Version {revision} is suppressed now: {now}. Unsuppressing makes it readable"
        " to everyone again, as before."
        if now
        else None
    )
    return confirm_page(
        f"Unsuppress version {revision} of comment {number}",
        _crumbs(thread, comment_id, number, history=True),
        form,
        intro=intro,
        status=status,
    )


@bp.app_template_global("revision_actions")
def revision_actions(comment_id: str, revision: int) -> list[tuple[str, str]]:
    """For the history page (history.html): a moderator's links for one revision, from
    today's decisions (read once per page)."""
    if not is_moderator():
        return []
    decided = g.setdefault("revision_decisions", {})
    if comment_id not in decided:
        decided[comment_id] = visibility.decisions_for(engine(), [comment_id]).get(comment_id)
    d = decided[comment_id]
    r = d.revisions.get(int(revision)) if d is not None else None
    if (d is not None and d.erased) or (r is not None and r.erased_at is not None):
        return []
    args = {"comment_id": comment_id, "revision": revision}
    links = []
    if r is not None and (r.text_suppressed or r.reason_suppressed):
        links.append(("Unsuppress", url_for("pages.unsuppress_revision", **args)))
    else:
        links.append(("Suppress", url_for("pages.suppress_revision", **args)))
    links.append(("Erase this version", url_for("pages.erase_revision", **args)))
    return links


# ---- lock and unlock a thread ------------------------------------------------------


def lock_form(thread: dict) -> forms.Form:
    locking = not thread["locked"]
    endpoint = "pages.lock" if locking else "pages.unlock"
    return forms.Form(
        action=url_for(endpoint, thread_id=thread["id"]),
        submit="Lock thread" if locking else "Unlock thread",
        fields=[forms.reason(label="Reason (optional)")],
        cancel=thread_url(thread),
        danger=locking,
        id="lock-thread",
    )


def _lock_or_unlock(thread_id: UUID, locking: bool):
    author, refusal = _moderator_or_refusal()
    if refusal is not None:
        return refusal
    eng = engine()
    thread = queries.thread_meta(queries.thread_row(eng, str(thread_id)))
    form = lock_form(thread)
    if thread["locked"] != (not locking):
        # Already in the state asked for: show the form for the other way round.
        form.error = "The thread is locked already." if locking else "The thread is not locked."
    status = 200
    if request.method == "POST":
        form.fill_from_request()
        app = application()
        command = app.lock_thread if locking else app.unlock_thread
        try:
            changed = command(author.id, thread_id, forms.optional("reason"))
        except DomainError as error:
            status = form.fail(error)
        else:
            wrote(changed.position)
            return redirect(thread_url(thread))
    intro = (
        "Nobody can post, reply or edit in a locked thread; reading stays open."
        if locking
        else "Authors will be able to post, reply and edit again."
    )
    title = "Lock this thread" if locking else "Unlock this thread"
    return action_page(title, form, None, thread, status=status, intro=intro)


@bp.route("/threads/<uuid:thread_id>/lock", methods=["GET", "POST"])
@write_limits
def lock(thread_id: UUID):
    return _lock_or_unlock(thread_id, True)


@bp.route("/threads/<uuid:thread_id>/unlock", methods=["GET", "POST"])
@write_limits
def unlock(thread_id: UUID):
    return _lock_or_unlock(thread_id, False)


# ---- the audit log -----------------------------------------------------------------

AUDIT_PAGE = 50
AUDIT_TYPES = {
    "Comment.Posted": "Comment posted",
    "Comment.Edited": "Comment edited",
    "Comment.Retracted": "Comment retracted",
    "Comment.Hidden": "Comment removed",
    "Comment.Restored": "Comment restored",
    "Comment.Erased": "Comment erased",
    "Comment.RevisionErased": "Revision erased",
    "Comment.RevisionSuppressed": "Revision suppressed",
    "Comment.RevisionUnsuppressed": "Revision unsuppressed",
    "Author.Erased": "Account erased",
    "Thread.Opened": "Thread opened",
    "Thread.Retitled": "Thread retitled",
    "Thread.Locked": "Thread locked",
    "Thread.Unlocked": "Thread unlocked",
    "Author.Registered": "Author registered",
    "ImportRun.Recorded": "Import recorded",
}


_cursor_query = CursorQuery()


def _day(value: str, plus_days: int = 0) -> str | None:
    """A yyyy-mm-dd filter as the stored timestamps' prefix (UTC)."""
    try:
        return (date.fromisoformat(value) + timedelta(days=plus_days)).isoformat()
    except (ValueError, OverflowError):  # not a date, or the day after 9999-12-31
        return None


def _audit_filters() -> tuple[dict[str, str], dict[str, object], list[str]]:
    """(the filters as typed, audit_page's arguments, problems to show)."""
    names = ("thread", "actor", "type", "since", "until")
    raw = {k: request.args.get(k, "").strip() for k in names}
    args: dict[str, object] = {}
    problems = []
    if raw["thread"]:
        try:
            args["thread_id"] = resolve_thread(raw["thread"])
        except queries.NotInView:
            problems.append(f"No thread with id or key “{raw['thread']}”.")
    if raw["actor"]:
        try:
            args["actor_id"] = str(UUID(raw["actor"]))
        except ValueError:
            problems.append("The actor filter takes an author id (follow a name's link).")
    if raw["type"]:
        if raw["type"] in AUDIT_TYPES:
            args["types"] = [raw["type"]]
        else:
            problems.append(f"Unknown kind of change “{raw['type']}”.")
    for name, plus in (("since", 0), ("until", 1)):
        if raw[name]:
            value = _day(raw[name], plus)
            if value is None:
                problems.append(
                    f"“{raw[name]}” is not a date the log can be filtered by (yyyy-mm-dd)."
                )
            else:
                args[name] = value
    return raw, args, problems


@bp.get("/audit")
def audit():
    if viewer() is None:
        return sign_in_first()
    if not is_moderator():
        return error_page(403, "The audit log is for moderators.")
    from projections.audit_log import audit_page
    from projections.visibility import Viewer
    from web.pages.feeds import changes_feed_url

    eng = engine()
    raw, args, problems = _audit_filters()
    cursor = page_args(_cursor_query)["cursor"]
    page = {"entries": [], "next_cursor": None}
    if not problems:
        # Reasons and names opened as the visibility policy lets this moderator read them.
        page = audit_page(eng, cursor=cursor, limit=AUDIT_PAGE, viewer=Viewer.of(viewer()), **args)
    thread_ids = {e["thread_id"] for e in page["entries"] if e["thread_id"]}
    threads, numbered = {}, {}
    for thread_id in thread_ids:
        try:
            threads[thread_id] = queries.thread_meta(queries.thread_row(eng, thread_id))
        except queries.NotInView:
            continue
        numbered.update(numbers(eng, thread_id))
    entries = []
    for e in page["entries"]:
        thread = threads.get(e["thread_id"])
        entries.append(
            {
                **e,
                "what": AUDIT_TYPES.get(e["type"], e["type"]),
                "thread": thread,
                "thread_link": thread_url(thread) if thread else None,
                "number": numbered.get(e["comment_id"]) if e["comment_id"] else None,
            }
        )
    kept = {k: v for k, v in raw.items() if v}
    next_url = (
        url_for("pages.audit", cursor=page["next_cursor"], **kept)
        if page["next_cursor"] is not None
        else None
    )
    body = render_template(
        "audit.html",
        entries=entries,
        filters=raw,
        problems=problems,
        types=AUDIT_TYPES,
        next_url=next_url,
        first_url=url_for("pages.audit", **kept) if cursor is not None else None,
        changes_feed_url=changes_feed_url(viewer()),
    )
    return body, 422 if problems else 200
