"""Moderators' review queue (issue 13): comments and edits held by the moderation
rules, oldest first, with the rule(s) that fired, the author's history, the diff of
an edit; approve or reject one, or the ticked ones at once, with a reason. Works
without JavaScript; web/static/js/review.js adds keys (j/k move, x ticks, a/r decide).

Also here: a thread's pre-moderation switch, and a pasted rule set tried on the past.
"""

from __future__ import annotations

from uuid import UUID

from flask import redirect, render_template, request, url_for

from domain.errors import DomainError
from domain.moderation_rules import RulesInvalid, parse_rules
from projections import review_queue, rules_replay
from projections.visibility import Viewer
from web.pages import bp, forms
from web.pages.common import (
    application,
    engine,
    resolve_thread,
    thread_url,
    viewer,
    write_limits,
    wrote,
)
from web.pages.errors import error_page
from web.pages.posting import sign_in_first

QUEUE_PAGE = 50


def _moderator():
    author = viewer()
    if author is None:
        return None, sign_in_first()
    if not author.is_moderator:
        return None, error_page(403, "The review queue is for moderators.")
    return author, None


def _render(author, *, status: int = 200, notice: str | None = None, **more):
    eng = engine()
    after = request.args.get("cursor", type=int)
    page = review_queue.queue_page(eng, Viewer.of(author), limit=QUEUE_PAGE, after=after)
    body = render_template(
        "review.html",
        page=page,
        notice=notice,
        next_url=(
            url_for("pages.review", cursor=page["next_cursor"]) if page["next_cursor"] else None
        ),
        rules_text=more.pop("rules_text", ""),
        **more,
    )
    return body, status


@bp.get("/moderation")
def review():
    author, refusal = _moderator()
    if refusal is not None:
        return refusal
    notice = None
    if request.args.get("decided"):
        notice = request.args["decided"]
    after = request.args.get("after", type=int)
    if after:
        wrote(after)
    return _render(author, notice=notice)


@bp.post("/moderation/decide")
@write_limits
def review_decide():
    author, refusal = _moderator()
    if refusal is not None:
        return refusal
    # One item's button sends "approve:<id>"; the bulk buttons an action and the ticks.
    action, _, one = request.form.get("one", "").partition(":")
    if not one:
        action = request.form.get("action", "")
    ids = [one] if one else request.form.getlist("comment_ids")
    if action not in ("approve", "reject"):
        return _render(author, status=422, error="Choose approve or reject.")
    if not ids:
        return _render(author, status=422, error="Tick at least one comment first.")
    reason = forms.optional("reason")
    app = application()
    command = app.approve_comment if action == "approve" else app.reject_comment
    done, failed, position = 0, [], 0
    for raw in ids:
        try:
            changed = command(author.id, UUID(raw), reason)
        except (ValueError, DomainError) as error:
            failed.append(getattr(error, "message", str(error)))
            continue
        done += 1
        position = max(position, changed.position)
    if not done:
        status = 409 if failed else 422
        return _render(author, status=status, error=forms.sentence(failed[0]) if failed else None)
    verb = "Approved" if action == "approve" else "Rejected"
    words = f"{verb} {done} comment{'s' if done != 1 else ''}."
    if failed:
        words += f" {len(failed)} could not be: {forms.sentence(failed[0])}"
    return redirect(url_for("pages.review", decided=words, after=position))


@bp.post("/moderation/try")
@write_limits
def review_try():
    author, refusal = _moderator()
    if refusal is not None:
        return refusal
    text = request.form.get("rules", "")
    since = request.form.get("since", type=int) or 1
    try:
        rules = parse_rules(text, "the pasted rules")
    except RulesInvalid as error:
        return _render(author, status=422, rules_error=str(error), rules_text=text)
    report = rules_replay.try_rules(engine(), rules, since=max(1, since))
    return _render(author, report=report.as_dict(), rules_text=text)


@bp.post("/t/<path:ref>/premoderation")
@write_limits
def premoderation(ref: str):
    author, refusal = _moderator()
    if refusal is not None:
        return refusal
    thread_id = resolve_thread(ref)
    on = request.form.get("on") == "1"
    try:
        changed = application().switch_premoderation(author.id, UUID(thread_id), on)
    except DomainError as error:
        return error_page(409, forms.sentence(error.message))
    wrote(changed.position)
    from projections import queries

    thread = queries.thread_meta(queries.thread_row(engine(), thread_id))
    return redirect(thread_url(thread))
