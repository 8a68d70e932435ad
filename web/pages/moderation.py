"""Moderators: remove (hide) a comment with a reason, restore it, lock and unlock a
thread, and read the audit log."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

from flask import redirect, render_template, request, url_for

from domain.errors import DomainError
from projections import queries
from web.pages import bp, forms
from web.pages.common import (
    engine,
    is_moderator,
    resolve_thread,
    service,
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
    run_comment_action,
    sign_in_first,
)


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
        lambda: service().hide_comment(author.id, comment_id, forms.posted("reason")),
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
        lambda: service().restore_comment(author.id, comment_id, forms.optional("reason")),
    )
    if done is not None:
        return done
    return action_page(f"Restore comment {number}", form, comment, thread, number, status=status)


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
        app = service()
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
    "Thread.Opened": "Thread opened",
    "Thread.Retitled": "Thread retitled",
    "Thread.Locked": "Thread locked",
    "Thread.Unlocked": "Thread unlocked",
    "Author.Registered": "Author registered",
    "ImportRun.Recorded": "Import recorded",
}


def _day(value: str, plus_days: int = 0) -> str | None:
    """A yyyy-mm-dd filter as the stored timestamps' prefix (UTC)."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return (day + timedelta(days=plus_days)).isoformat()


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
                problems.append(f"“{raw[name]}” is not a date (yyyy-mm-dd).")
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

    eng = engine()
    raw, args, problems = _audit_filters()
    cursor = request.args.get("cursor", type=int)
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
    )
    return body, 422 if problems else 200
