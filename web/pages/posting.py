"""Writing as an author: a new comment, a reply, an edit, a retraction.

Every form works without JavaScript: GET shows it on a page of its own (which the
inline-form script can also fetch and show under the comment), POST writes, waits
until the projections include the write, and redirects to the comment (#c-<id>).
A refused write shows the form again with the error and the text kept."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import redirect, render_template, request, url_for

from domain.errors import DomainError
from projections import queries
from web.pages import bp, forms
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
from web.pages.locate import place, url_of


def sign_in_first():
    return redirect(url_for("pages.signin", next=request.full_path.rstrip("?")))


def comment_and_thread(comment_id: str) -> tuple[dict, dict, str]:
    """The comment as shown (no replies), its thread, and its number."""
    eng = engine()
    page = queries.comment_subtree(
        eng, comment_id, queries.PageRequest(limit=1, depth=0, moderator=is_moderator())
    )
    node = dict(page["comment"], replies=[], more_replies=None)
    where = place(eng, comment_id)
    return node, page["thread"], where.number if where else ""


def go_to_comment(comment_id: str, position: int, thread: dict | None = None):
    """Redirect to the page that shows the comment, once the projections have it."""
    ready = wrote(position)
    eng = engine()
    where = place(eng, comment_id)
    if where is None:  # not in the projection yet (time ran out)
        return redirect(thread_url(thread, after=position) if thread else "/")
    if thread is None:
        thread = queries.thread_meta(queries.thread_row(eng, where.thread_id))
    url = url_of(eng, where, thread)
    if not ready:
        base, _, anchor = url.partition("#")
        url = f"{base}{'&' if '?' in base else '?'}after={position}#{anchor}"
    return redirect(url)


def run_comment_action(form: forms.Form, comment_id: UUID, thread: dict, command):
    """On a POST, run `command()`: a domain error goes on the form (with its 4xx status),
    success redirects to the comment once the projections show it.
    Returns (redirect or None, status)."""
    if request.method != "POST":
        return None, 200
    form.fill_from_request()
    try:
        changed = command()
    except DomainError as error:
        return None, form.fail(error)
    return go_to_comment(str(comment_id), changed.position, thread), 200


def action_page(
    title: str, form: forms.Form, comment: dict | None, thread: dict, number: str = "", **more
):
    status: int = more.pop("status", 200)
    body = render_template(
        "action.html",
        title=title,
        form=form,
        comment=comment,
        number=number,
        thread=thread,
        thread_link=thread_url(thread),
        **more,
    )
    return body, status


# ---- a new top-level comment -------------------------------------------------------


@bp.post("/threads/<uuid:thread_id>/comments")
@write_limits
def post_comment(thread_id: UUID):
    from web.pages.threads import new_comment_form, render_thread

    author = viewer()
    if author is None:
        return sign_in_first()
    tid = resolve_thread(str(thread_id))
    thread = queries.thread_meta(queries.thread_row(engine(), tid))
    form = new_comment_form(thread).fill_from_request()
    if forms.caught_by_honeypot():
        form.error = "Your comment could not be posted."
        return render_thread(tid, form=form, status=422)
    try:
        posted = application().post_comment(
            author.id,
            thread_id,
            forms.posted("text"),
            client_key=forms.optional("client_key"),
        )
    except DomainError as error:
        status = form.fail(error)
        return render_thread(tid, form=form, status=status)
    if posted.held_by:  # not on the thread for readers: the author's box says so
        wrote(posted.position)
        return redirect(thread_url(thread) + "#awaiting-review")
    return go_to_comment(str(posted.comment_id), posted.position, thread)


# ---- reply -------------------------------------------------------------------------


def reply_form(comment: dict, thread: dict) -> forms.Form:
    name = comment["author"]["name"] if comment.get("author") else "this comment"
    return forms.Form(
        action=url_for("pages.reply", comment_id=comment["id"]),
        submit="Post reply",
        fields=[
            forms.text(label=f"Your reply to {name}", rows=5),
            forms.client_key(),
            forms.honeypot(),
        ],
        cancel=url_for("pages.comment_permalink", comment_id=comment["id"]),
        id=f"reply-{comment['id']}",
    )


@bp.route("/c/<uuid:comment_id>/reply", methods=["GET", "POST"])
@write_limits
def reply(comment_id: UUID):
    author = viewer()
    if author is None:
        return sign_in_first()
    comment, thread, number = comment_and_thread(str(comment_id))
    form = reply_form(comment, thread)
    status = 200
    if thread["locked"]:
        form.error = "This thread is locked: no new replies."
        status = 409 if request.method == "POST" else 200
    elif request.method == "POST" and forms.fill_caught(form):
        form.error = "Your reply could not be posted."
        status = 422
    elif request.method == "POST":
        form.fill_from_request()
        try:
            posted = application().post_comment(
                author.id,
                UUID(thread["id"]),
                forms.posted("text"),
                parent_id=comment_id,
                client_key=forms.optional("client_key"),
            )
        except DomainError as error:
            status = form.fail(error)
        else:
            if posted.held_by:
                wrote(posted.position)
                return redirect(thread_url(thread) + "#awaiting-review")
            return go_to_comment(str(posted.comment_id), posted.position, thread)
    title = f"Reply to comment {number}"
    return action_page(title, form, comment, thread, number, status=status)


# ---- edit --------------------------------------------------------------------------


def edit_form(comment: dict, text: str, version: int) -> forms.Form:
    return forms.Form(
        action=url_for("pages.edit", comment_id=comment["id"]),
        submit="Save changes",
        fields=[
            forms.text(text, label="Text", rows=8),
            forms.reason(label="What changed (optional, shown in the history)"),
            forms.Field("expected_version", kind="hidden", value=str(version)),
        ],
        cancel=url_for("pages.comment_permalink", comment_id=comment["id"]),
        id=f"edit-{comment['id']}",
    )


def _may_change(comment: dict, author) -> bool:
    owner = comment.get("author") and comment["author"]["id"] == str(author.id)
    return bool(owner or author.is_moderator)


def _expected_version() -> int | None:
    """The form's hidden version (a whole number from 1), or None when it is missing or
    not a version (a form that was not ours, or was cut short)."""
    raw = request.form.get("expected_version", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw) or None


@bp.route("/c/<uuid:comment_id>/edit", methods=["GET", "POST"])
@write_limits
def edit(comment_id: UUID):
    author = viewer()
    if author is None:
        return sign_in_first()
    comment, thread, number = comment_and_thread(str(comment_id))
    if comment["state"] == "retracted":
        form = edit_form(comment, "", comment["version"])
        form.error = "This comment has been retracted: it cannot be edited."
        return action_page(f"Edit comment {number}", form, comment, thread, number, status=409)
    if not _may_change(comment, author):
        from web.pages.errors import error_page

        return error_page(403, "Only the comment's author or a moderator may edit it.")
    form = edit_form(comment, comment["text"] or "", comment["version"])
    status = 200
    if request.method == "POST":
        form.fill_from_request()
        version = _expected_version()
        if version is None:
            # Like the API's 428: an edit must say which version it was made on.
            form.get("expected_version").value = str(comment["version"])
            form.error = (
                "This form did not say which version of the comment it edits, so it was not"
                " saved. Your text is kept below, over the current one: check it, then save."
            )
            return action_page(f"Edit comment {number}", form, comment, thread, number, status=428)
        try:
            changed = application().edit_comment(
                author.id,
                comment_id,
                forms.posted("text"),
                expected_version=version,
                reason=forms.optional("reason"),
            )
        except DomainError as error:
            status = form.fail(error)
            current = getattr(error, "current_version", None)
            if current is not None:
                # Show the current text beside the kept one; sending again overwrites it.
                form.get("expected_version").value = str(current)
                form.error = (
                    "This comment changed since you opened it, so your edit was not saved."
                    " The current text is shown above; yours is kept below: save again to"
                    " replace it."
                )
                comment, thread, number = comment_and_thread(str(comment_id))
        else:
            return go_to_comment(str(comment_id), changed.position, thread)
    elif thread["locked"]:
        form.error = "This thread is locked: comments cannot be edited."
    return action_page(f"Edit comment {number}", form, comment, thread, number, status=status)


# ---- retract -----------------------------------------------------------------------


def retract_form(comment: dict) -> forms.Form:
    return forms.Form(
        action=url_for("pages.retract", comment_id=comment["id"]),
        submit="Retract comment",
        fields=[forms.reason(label="Reason (optional, shown in place of the comment)")],
        cancel=url_for("pages.comment_permalink", comment_id=comment["id"]),
        danger=True,
        id=f"retract-{comment['id']}",
    )


@bp.route("/c/<uuid:comment_id>/retract", methods=["GET", "POST"])
@write_limits
def retract(comment_id: UUID):
    author = viewer()
    if author is None:
        return sign_in_first()
    comment, thread, number = comment_and_thread(str(comment_id))
    if not _may_change(comment, author) and comment["state"] != "retracted":
        from web.pages.errors import error_page

        return error_page(403, "Only the comment's author or a moderator may retract it.")
    form = retract_form(comment)
    done, status = run_comment_action(
        form,
        comment_id,
        thread,
        lambda: application().retract_comment(author.id, comment_id, forms.optional("reason")),
    )
    if done is not None:
        return done
    intro: dict[str, Any] = {
        "intro": "Readers will see “retracted by its author” in its place; its text stays"
        " visible to you and moderators in its history; replies stay. This cannot be undone."
    }
    return action_page(
        f"Retract comment {number}", form, comment, thread, number, status=status, **intro
    )
