"""The record (a comment's history and diffs, a thread's timeline and changes, the audit
log) goes through the one visibility policy, and the public ledger lists erasures.

Decided today, for every reader of the record: an erased comment, revision or author's
content for nobody (moderators included); a hidden comment's texts for moderators; a
retracted comment's texts for its author and moderators; a suppressed revision's text or
edit reason for moderators; reasons of moderation for moderators. What is withheld
carries a note: why, and since when. No response ever carries a sealed value, and none
carries withheld plaintext (the raw bytes are searched). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

import pytest

from domain.model import OPERATOR_ID
from tests.api.conftest import API, Caller, assert_error, post

SEALED = (b"\x1es1:", b"\\u001es1:")  # raw, and as JSON escapes it
DAY = r"\d{1,2} [A-Z][a-z]+ \d{4}"  # "6 December 2026"


def get(client, path: str, caller: Caller | None = None, **query):
    headers = caller.headers if caller else {}
    return client.get(f"{API}{path}", query_string=query, headers=headers)


def assert_clean(response, *secrets: str) -> None:
    """No sealed value and none of these plaintexts anywhere in the raw body."""
    data = response.get_data()
    for sealed in SEALED:
        assert sealed not in data, data[:500]
    for secret in secrets:
        assert secret.encode() not in data, (secret, data[:500])


def texts(body: dict) -> list:
    return [e["text"] for e in body["entries"] if e["kind"] in ("posted", "edited")]


def history(client, comment_id: str, caller: Caller | None, position: int) -> dict:
    response = get(client, f"/comments/{comment_id}/history", caller, min_position=position)
    assert response.status_code == 200, response.json
    return response.json


def diff(client, comment_id: str, caller: Caller | None, position: int, old: int, new: int):
    return get(
        client,
        f"/comments/{comment_id}/diff",
        caller,
        min_position=position,
        **{"from": old, "to": new},
    )


# ---- retracted: its author and moderators ------------------------------------------------

RETRACTED_V1 = "ring me on 07700 900111"
RETRACTED_V2 = "ring me on 07700 900222 tonight"
RETRACT_NOTE = "posted by mistake"
EDIT_REASON = "the second number is 900222"


def test_a_retracted_comments_texts_are_for_its_author_and_moderators(
    client, thread, member, other_member, moderator
):
    posted = post(client, member, thread["id"], RETRACTED_V1)
    cid = posted["comment"]
    edited = client.patch(
        f"{API}/comments/{cid}",
        json={"text": RETRACTED_V2, "reason": EDIT_REASON},
        headers={**member.headers, "If-Match": '"1"'},
    )
    assert edited.status_code == 200, edited.json
    retracted = client.delete(
        f"{API}/comments/{cid}", json={"reason": RETRACT_NOTE}, headers=member.headers
    )
    assert retracted.status_code == 200, retracted.json
    at = retracted.json["position"]

    before = get(client, f"/comments/{cid}/history", min_position=at)
    for caller in (None, other_member):
        response = get(client, f"/comments/{cid}/history", caller, min_position=at)
        assert response.status_code == 200
        assert_clean(response, RETRACTED_V1, RETRACTED_V2, EDIT_REASON)
        body = response.json
        assert (body["state"], body["text_withheld"]) == ("retracted", True)
        assert body["withheld_cause"] == "retracted"
        assert re.fullmatch(f"retracted by its author on {DAY}", body["withheld"])
        assert texts(body) == [None, None]
        assert all(e["withheld"] == body["withheld"] for e in body["entries"][:2])
        edit = body["entries"][1]
        assert (edit["reason"], edit["reason_withheld"]) == (None, body["withheld"])
        # The retraction's reason is the author's public note; who wrote it is withheld.
        assert body["entries"][2]["reason"] == RETRACT_NOTE
        assert body["author"] is None and body["entries"][0]["actor"] is None
        refused = diff(client, cid, caller, at, 1, 2)
        error = assert_error(refused, 403, "permission_denied")
        assert re.fullmatch(
            f"version 1 of this comment was retracted by its author on {DAY}: its texts are"
            " for its author and moderators only",
            error["message"],
        )
        assert_clean(refused, RETRACTED_V1, RETRACTED_V2)
    assert before.headers["Cache-Control"].startswith("public")

    for caller in (member, moderator):
        response = get(client, f"/comments/{cid}/history", caller, min_position=at)
        body = response.json
        assert texts(body) == [RETRACTED_V1, RETRACTED_V2], caller.name
        assert body["entries"][1]["reason"] == EDIT_REASON
        assert body["author"] == {"id": str(member.id), "name": member.name}
        assert body["text_withheld"] is False and body["withheld"] is None
        # Private, and never the anonymous reader's cached body (nor its ETag).
        assert response.headers["Cache-Control"].startswith("private")
        assert response.headers["ETag"] != before.headers["ETag"]
        assert_clean(response)
        shown = diff(client, cid, caller, at, 1, 2)
        assert shown.status_code == 200, shown.json
        assert "+ring me on 07700 900222 tonight\n" in shown.json["unified"]
        assert shown.headers["Cache-Control"].startswith("private")


# ---- hidden: moderators ------------------------------------------------------------------

HIDDEN_TEXT = "my address is 4 Privet Drive"
HIDE_REASON = "doxxing, see ticket 77"


def test_a_hidden_comments_texts_and_reasons_are_for_moderators(
    client, app, thread, member, other_member, moderator
):
    cid = post(client, member, thread["id"], HIDDEN_TEXT)["comment"]
    first = get(client, f"/comments/{cid}/history", min_position=app.head_position())
    assert texts(first.json) == [HIDDEN_TEXT]
    hid = app.hide_comment(moderator.id, UUID(cid), HIDE_REASON).position
    # The old ETag does not serve the old body: the comment's position is in the key.
    again = client.get(
        f"{API}/comments/{cid}/history",
        query_string={"min_position": hid},
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 200
    assert_clean(again, HIDDEN_TEXT, HIDE_REASON)
    for caller in (None, member, other_member):
        body = history(client, cid, caller, hid)
        assert (body["state"], body["withheld_cause"]) == ("hidden", "hidden")
        assert re.fullmatch(f"removed by a moderator on {DAY}", body["withheld"])
        assert texts(body) == [None]
        hide = body["entries"][1]
        assert (hide["kind"], hide["reason"], hide["reason_withheld"]) == ("hidden", None, None)
        assert hide["actor"] == {"id": str(moderator.id), "name": moderator.name}
        error = assert_error(diff(client, cid, caller, hid, 1, 1), 403, "permission_denied")
        assert "removed by a moderator on" in error["message"]
        assert "moderators only" in error["message"]
    body = history(client, cid, moderator, hid)
    assert texts(body) == [HIDDEN_TEXT] and body["entries"][1]["reason"] == HIDE_REASON
    assert diff(client, cid, moderator, hid, 1, 1).status_code == 200


# ---- a suppressed revision: moderators; the others stay readable ---------------------------

V1, V2, V3 = "I live in Leeds", "I live at 12 Acacia Avenue, Leeds", "I live in Leeds, again"
V2_REASON = "added my street, 12 Acacia Avenue"
SUPPRESS_REASON = "an address, per policy 4"


@dataclass
class Revised:
    comment: str
    position: int


@pytest.fixture
def revised(app, client, thread, member) -> Revised:
    """A comment of three revisions; the second carries an address (text and reason)."""
    posted = app.post_comment(member.id, UUID(thread["id"]), V1)
    app.edit_comment(member.id, posted.comment_id, V2, reason=V2_REASON)
    edited = app.edit_comment(member.id, posted.comment_id, V3, reason="removed the street")
    return Revised(str(posted.comment_id), edited.position)


def test_a_suppressed_revision_is_for_moderators_and_the_others_stay_readable(
    client, app, revised, member, other_member, moderator
):
    cid = revised.comment
    at = app.suppress_revision(
        moderator.id, UUID(cid), 2, text=True, edit_reason=True, reason=SUPPRESS_REASON
    ).position
    for caller in (None, other_member, member):  # the author too: moderators only
        response = get(client, f"/comments/{cid}/history", caller, min_position=at)
        assert_clean(response, "Acacia", SUPPRESS_REASON)
        body = response.json
        assert body["text_withheld"] is False and body["state"] == "visible"
        assert texts(body) == [V1, None, V3]
        second = body["entries"][1]
        assert re.fullmatch(f"withheld by a moderator on {DAY}", second["withheld"])
        assert (second["reason"], second["reason_withheld"]) == (None, second["withheld"])
        assert body["entries"][2]["reason"] == "removed the street"
        decision = body["entries"][3]
        assert decision["kind"] == "revision_suppressed"
        assert (decision["revision"], decision["suppressed"]) == (2, ["text", "edit_reason"])
        assert decision["reason"] is None and decision["text"] is None
        assert diff(client, cid, caller, at, 1, 3).status_code == 200
        error = assert_error(diff(client, cid, caller, at, 1, 2), 403, "permission_denied")
        assert re.fullmatch(
            f"version 2 of this comment was withheld by a moderator on {DAY}: that text is"
            " for moderators only",
            error["message"],
        )
    body = history(client, cid, moderator, at)
    assert texts(body) == [V1, V2, V3]
    assert body["entries"][1]["reason"] == V2_REASON
    assert body["entries"][3]["reason"] == SUPPRESS_REASON
    assert V2 in diff(client, cid, moderator, at, 1, 2).json["unified"]

    # Only the edit reason: the text is readable again, the reason not.
    at = app.unsuppress_revision(moderator.id, UUID(cid), 2, "reviewed").position
    at = app.suppress_revision(moderator.id, UUID(cid), 2, text=False, edit_reason=True).position
    body = history(client, cid, None, at)
    assert texts(body) == [V1, V2, V3]
    assert body["entries"][1]["reason"] is None
    assert "withheld by a moderator" in body["entries"][1]["reason_withheld"]
    assert [e["kind"] for e in body["entries"][3:]] == [
        "revision_suppressed",
        "revision_unsuppressed",
        "revision_suppressed",
    ]
    assert body["entries"][4]["reason"] is None  # moderation reasons: moderators only
    assert history(client, cid, moderator, at)["entries"][4]["reason"] == "reviewed"


# ---- an erased revision: nobody -----------------------------------------------------------


def test_an_erased_revision_is_for_nobody_and_the_others_stay_readable(
    client, app, revised, member, moderator
):
    cid = revised.comment
    at = app.erase_revision(moderator.id, UUID(cid), 2, "personal_data").position
    for caller in (None, member, moderator):
        response = get(client, f"/comments/{cid}/history", caller, min_position=at)
        assert_clean(response, "Acacia")
        body = response.json
        assert texts(body) == [V1, None, V3], caller
        second = body["entries"][1]
        assert re.fullmatch(f"erased on {DAY}", second["withheld"])
        assert second["reason"] is None  # destroyed with the text (nothing left to note)
        decision = body["entries"][3]
        assert (decision["kind"], decision["revision"]) == ("revision_erased", 2)
        assert (decision["basis"], decision["basis_label"]) == (
            "personal_data",
            "it exposed personal data",
        )
        assert decision["actor"] == {"id": str(moderator.id), "name": moderator.name}
        assert diff(client, cid, caller, at, 1, 3).status_code == 200
        for old, new in ((1, 2), (2, 3)):
            refused = diff(client, cid, caller, at, old, new)
            error = assert_error(refused, 403, "permission_denied")
            assert re.fullmatch(f"version 2 of this comment was erased on {DAY}", error["message"])
            assert_clean(refused, "Acacia")
    # The default diff (the latest text against the one before it) touches it too.
    assert_error(get(client, f"/comments/{cid}/diff", moderator), 403, "permission_denied")


# ---- an erased comment: entries without any text, for everyone ------------------------------


def test_an_erased_comment_lists_its_entries_without_any_text_for_everyone(
    client, app, revised, member, other_member, moderator
):
    cid = revised.comment
    app.hide_comment(moderator.id, UUID(cid), HIDE_REASON)
    at = app.erase_comment(moderator.id, UUID(cid), "legal").position
    for caller in (None, other_member, member, moderator):
        response = get(client, f"/comments/{cid}/history", caller, min_position=at)
        assert_clean(response, V1, V2, V3, V2_REASON, "removed the street", HIDE_REASON)
        body = response.json
        assert (body["state"], body["withheld_cause"]) == ("erased", "erased")
        assert re.fullmatch(f"erased on {DAY}", body["withheld"])
        assert body["author"] is None
        assert [e["kind"] for e in body["entries"]] == [
            "posted",
            "edited",
            "edited",
            "hidden",
            "erased",
        ]
        assert all(e["text"] is None and e["reason"] is None for e in body["entries"])
        assert [e["actor"] for e in body["entries"][:3]] == [None, None, None]
        erased = body["entries"][4]
        assert (erased["basis"], erased["basis_label"]) == (
            "legal",
            "in response to a legal request",
        )
        assert_error(diff(client, cid, caller, at, 1, 3), 403, "permission_denied")


# ---- timeline, changes and the audit log ---------------------------------------------------


def test_timeline_changes_and_audit_hold_no_sealed_value_and_no_withheld_content(
    client, app, thread, revised, member, other_member, moderator
):
    cid = revised.comment
    tid = thread["id"]
    hidden = app.post_comment(other_member.id, UUID(tid), HIDDEN_TEXT)
    app.hide_comment(moderator.id, hidden.comment_id, HIDE_REASON)
    retracted = app.post_comment(member.id, UUID(tid), RETRACTED_V1)
    app.edit_comment(member.id, retracted.comment_id, RETRACTED_V2, reason=EDIT_REASON)
    app.retract_comment(member.id, retracted.comment_id, RETRACT_NOTE)
    app.suppress_revision(moderator.id, UUID(cid), 2, text=True, edit_reason=True, reason="x")
    at = app.erase_revision(moderator.id, UUID(cid), 3, "personal_data").position

    withheld_from_readers = (V2_REASON, HIDE_REASON, EDIT_REASON, "removed the street")
    for caller in (None, other_member):
        timeline = get(client, f"/threads/{tid}/timeline", caller, min_position=at, limit=500)
        assert timeline.status_code == 200
        assert_clean(timeline, *withheld_from_readers)
        entries = {e["position"]: e for e in timeline.json["entries"]}
        kinds = [e["kind"] for e in entries.values()]
        assert "Comment.RevisionSuppressed" in kinds and "Comment.RevisionErased" in kinds
        retract = next(e for e in entries.values() if e["kind"] == "Comment.Retracted")
        assert retract["reason"] == RETRACT_NOTE and retract["actor"] is None
        assert not any("(reason:" in e["summary"] for e in entries.values())
        changes = get(client, f"/threads/{tid}/changes", caller, min_position=at)
        assert changes.status_code == 200
        assert_clean(changes, *withheld_from_readers)
        body = changes.json
        assert [
            (e["comment_id"], e["revision"], e["scope"], e["basis"]) for e in body["erased"]
        ] == [(cid, 3, "revision", "personal_data")]
        assert [(s["kind"], s["revision"], s["reason"]) for s in body["suppressed"]] == [
            ("suppressed", 2, None)
        ]
        assert [(r["reason"], r["actor"]) for r in body["retracted"]] == [(RETRACT_NOTE, None)]
        assert [h["reason"] for h in body["hidden"]] == [None]

    # Moderators read reasons (never erased content), by opened names.
    audit = get(client, "/audit", moderator, min_position=at, limit=500)
    assert audit.status_code == 200
    assert_clean(audit, V3, "removed the street")  # revision 3 is erased: its reason too
    entries = audit.json["entries"]
    by_type = {}
    for e in entries:
        by_type.setdefault(e["type"], []).append(e)
    assert [e["reason"] for e in by_type["Comment.Hidden"]] == [HIDE_REASON]
    assert by_type["Comment.RevisionSuppressed"][0]["reason"] == "x"
    erased = by_type["Comment.RevisionErased"][0]
    assert erased["reason"] == "it exposed personal data"
    assert erased["summary"] == f"erased revision 3 of comment {cid} (it exposed personal data)"
    assert erased["actor"] == {"id": str(moderator.id), "name": moderator.name}
    registered = [e for e in by_type["Author.Registered"] if e["originator_id"] == str(member.id)]
    assert registered[0]["summary"] == f"registered author {member.id} (member)"
    assert registered[0]["actor"]["name"] == member.name
    edits = [e["reason"] for e in by_type["Comment.Edited"]]
    assert EDIT_REASON in edits and V2_REASON in edits and "removed the street" not in edits
    timeline = get(client, f"/threads/{tid}/timeline", moderator, min_position=at, limit=500)
    assert_clean(timeline, V3, "removed the street")
    assert timeline.headers["Cache-Control"].startswith("private")


# ---- the public ledger of erasures ---------------------------------------------------------


def test_the_ledger_lists_every_erasure_with_its_basis_and_never_its_content(
    client, app, thread, revised, member, other_member, moderator
):
    tid = UUID(thread["id"])
    cid = UUID(revised.comment)
    taken_down = app.post_comment(other_member.id, tid, "a takedown: 4 Privet Drive")
    own = [app.post_comment(member.id, tid, f"mine, number {n}: 07700 9003{n}") for n in (1, 2)]
    p1 = app.erase_revision(moderator.id, cid, 2, "personal_data").position
    p2 = app.erase_comment(moderator.id, taken_down.comment_id, "legal").position
    p3 = app.erase_author(member.id, member.id, "author_request").position
    p4 = app.erase_author(OPERATOR_ID, other_member.id, "operator").position
    assert app.erase_author(member.id, member.id, "author_request").position >= p4  # idempotent

    response = get(client, "/audit/erasures", min_position=p4)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"].startswith("public")
    assert_clean(response, "Privet", "07700", "Acacia", V1, V3, member.name, other_member.name)
    entries = response.json["entries"]
    assert [e["position"] for e in entries] == [p4, p3, p2, p1]  # newest first
    assert [(e["kind"], e["basis"], e["basis_label"]) for e in entries] == [
        ("author", "operator", "by decision of the site's operator"),
        ("author", "author_request", "at the author's request"),
        ("comment", "legal", "in response to a legal request"),
        ("revision", "personal_data", "it exposed personal data"),
    ]
    operator, themself, takedown, revision = entries
    assert (operator["author_id"], operator["actor"]) == (
        str(other_member.id),
        {"id": str(OPERATOR_ID), "name": "operator"},
    )
    # The operator's erasure covered the comment taken down before? No: it was erased
    # already (with its own entry); only the comments erased with the account count.
    assert operator["comments"] == 0
    assert (themself["author_id"], themself["comments"]) == (str(member.id), 3)
    assert themself["actor"] == {"id": str(member.id), "name": "the author themself"}
    assert (takedown["comment_id"], takedown["thread_id"]) == (
        str(taken_down.comment_id),
        str(tid),
    )
    assert takedown["actor"] == {"id": str(moderator.id), "name": moderator.name}
    assert (revision["comment_id"], revision["revision"]) == (str(cid), 2)
    # The comments erased with an account are not listed one by one.
    assert not any(e["comment_id"] in {str(c.comment_id) for c in own} for e in entries)

    seen, cursor = [], None
    while True:
        query = {"limit": 1} if cursor is None else {"limit": 1, "cursor": cursor}
        page = get(client, "/audit/erasures", **query).json
        seen += [e["position"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p4, p3, p2, p1]
    for query, field in (({"limit": 0}, "limit"), ({"cursor": -1}, "cursor"), ({"x": 1}, "x")):
        error = assert_error(get(client, "/audit/erasures", **query), 422, "validation_failed")
        assert field in error["fields"]

    # The audit log lists them too, without content; the erased author's name is gone.
    audit = get(client, "/audit", moderator, limit=500)
    assert_clean(audit, "Privet", "07700", "Acacia", member.name, other_member.name)
    names = {e["actor"]["name"] for e in audit.json["entries"] if e["actor"]}
    assert "erased author" in names and member.name not in names
    types = {e["type"] for e in audit.json["entries"]}
    assert {"Comment.Erased", "Comment.RevisionErased", "Author.Erased"} <= types


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_ledger_is_documented(client):
    spec = client.get(f"{API}/openapi.json").json
    operation = spec["paths"]["/api/v1/audit/erasures"]["get"]
    assert "security" not in operation or operation["security"] in ([], [{}])
    assert {"200", "422"} <= set(operation["responses"])
