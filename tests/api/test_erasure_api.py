"""Forgetting through the JSON API: a moderator erases a comment or one revision (a
takedown), suppresses and unsuppresses a revision; an author downloads their own data
and erases their own account.

Every refusal (401, 403, 404, 409, 422) stores no event: the count of events
(`app.head_position()`) is the same before and after. After an erasure the erased
text is in no response body (thread, comment, history, diff, past views, timeline,
changes, audit, export) while the thread keeps its shape.
"""

from __future__ import annotations

from uuid import UUID

from domain.model import ERASURE_BASES
from projections.author_export import author_export
from tests.api.conftest import API, Caller, assert_error, post, sqlite_only

PHONE = "07700 900123"
TEXT = f"call me on {PHONE}"
EDITED = "call me (number removed)"
ERASE_ACCOUNT = {"basis": "author_request", "confirm": "erase my account"}


# ---- helpers ---------------------------------------------------------------------------


def get(client, path: str, caller: Caller | None = None, **query):
    headers = caller.headers if caller else {}
    return client.get(f"{API}{path}", query_string=query, headers=headers)


def send(client, method: str, path: str, caller: Caller | None, body=None):
    headers = caller.headers if caller else {}
    return client.open(f"{API}{path}", method=method, json=body, headers=headers)


def edit(client, caller: Caller, comment_id: str, text: str, version: int, reason=None) -> dict:
    response = client.patch(
        f"{API}/comments/{comment_id}",
        json={"text": text, "reason": reason},
        headers={**caller.headers, "If-Match": f'"{version}"'},
    )
    assert response.status_code == 200, response.json
    return response.json


def node(body: dict, comment_id: str) -> dict:
    """A comment anywhere in a thread page."""

    def walk(nodes):
        for n in nodes:
            if n["id"] == comment_id:
                return n
            found = walk(n["replies"])
            if found is not None:
                return found
        return None

    found = walk(body["comments"])
    assert found is not None, comment_id
    return found


def refused(app, response, status: int, code: str | None = None, before: int | None = None):
    """The one error shape, and no event stored."""
    error = assert_error(response, status, code)
    if before is not None:
        assert app.head_position() == before, "a refused command stored an event"
    return error


def every_view(client, thread_id: str, comment_id: str, at: int, caller: Caller | None) -> dict:
    """Every body a reader can get that once held the comment's text."""
    paths = {
        "thread": (f"/threads/{thread_id}", {}),
        "thread by key": ("/threads/by-key/posts/a-thread", {}),
        "comment": (f"/comments/{comment_id}", {}),
        "history": (f"/comments/{comment_id}/history", {}),
        "diff": (f"/comments/{comment_id}/diff", {"from": 1, "to": 2}),
        "as of": (f"/threads/{thread_id}", {"at": at}),
        "timeline": (f"/threads/{thread_id}/timeline", {}),
        "changes": (f"/threads/{thread_id}/changes", {"from": 0}),
        "audit": ("/audit", {}),
        "author export": ("/authors/me/export", {}),
    }
    return {name: get(client, path, caller, **query) for name, (path, query) in paths.items()}


def assert_gone(bodies: dict, *secrets: str) -> None:
    for name, response in bodies.items():
        data = response.get_data(as_text=True)
        assert response.status_code < 500, (name, response.status_code, data[:300])
        for secret in secrets:
            assert secret not in data, f"{secret!r} is still in the {name} response"


# ---- a moderator erases a comment -----------------------------------------------------


def test_a_moderator_erases_a_comment_and_the_thread_keeps_its_shape(
    app, client, thread, member, other_member, moderator
):
    posted = post(client, member, thread["id"], TEXT)
    reply = post(client, other_member, thread["id"], "please don't", parent_id=posted["comment"])
    before = app.head_position()
    response = send(
        client,
        "POST",
        f"/comments/{posted['comment']}/erase",
        moderator,
        {"basis": "personal_data"},
    )
    assert response.status_code == 200, response.json
    erased = response.json
    assert erased["id"] == posted["comment"] and erased["erased"] is True
    assert erased["position"] == app.head_position() == before + 1
    assert response.headers["Cache-Control"] == "no-store"

    page = get(client, f"/threads/{thread['id']}", min_position=erased["position"]).json
    gone = node(page, posted["comment"])
    assert gone["state"] == "erased" and gone["text"] is None and gone["author"] is None
    assert gone["placeholder"].startswith("erased on ")
    # The thread keeps its shape: the reply is still there, under the placeholder.
    assert [r["id"] for r in gone["replies"]] == [reply["comment"]]
    assert gone["replies"][0]["text"] == "please don't"

    for caller in (None, member, moderator):
        bodies = every_view(client, thread["id"], posted["comment"], posted["position"], caller)
        assert_gone(bodies, PHONE)
    # Moderators read the audit and the erasure is in it (without its content).
    audit = get(client, "/audit", moderator, type="Comment.Erased").json
    assert [e["comment_id"] for e in audit["entries"]] == [posted["comment"]]


def test_erasing_a_comment_twice_records_nothing_new(app, client, thread, member, moderator):
    posted = post(client, member, thread["id"], TEXT)
    path = f"/comments/{posted['comment']}/erase"
    first = send(client, "POST", path, moderator, {"basis": "legal"})
    assert first.status_code == 200 and first.json["erased"] is True
    before = app.head_position()
    again = send(client, "POST", path, moderator, {"basis": "legal"})
    assert again.status_code == 200, again.json
    assert again.json["erased"] is False
    assert again.json["version"] == first.json["version"]
    assert app.head_position() == before


@sqlite_only
def test_erasing_a_comment_is_refused_unless_a_moderator_names_a_known_basis(
    app, client, thread, member, moderator
):
    posted = post(client, member, thread["id"], TEXT)
    path = f"/comments/{posted['comment']}/erase"
    before = app.head_position()
    refused(app, send(client, "POST", path, None, {"basis": "legal"}), 401, before=before)
    refused(app, send(client, "POST", path, member, {"basis": "legal"}), 403, before=before)
    unknown = f"/comments/{thread['id']}/erase"  # a thread's id is no comment's
    refused(app, send(client, "POST", unknown, moderator, {"basis": "legal"}), 404, before=before)
    error = refused(
        app, send(client, "POST", path, moderator, {"basis": "because"}), 422, before=before
    )
    assert list(error["fields"]) == ["basis"]
    for basis in ERASURE_BASES:  # the message lists the allowed ones
        assert basis in error["fields"]["basis"][0]
    for body in ({}, {"basis": None}, {"basis": "legal", "reason": "x"}):
        refused(app, send(client, "POST", path, moderator, body), 422, before=before)
    # Not JSON: 415 (a cross-site form cannot erase through the API).
    response = client.post(
        f"{API}{path}", data="basis=legal", headers=moderator.headers, content_type="text/plain"
    )
    refused(app, response, 415, before=before)
    # The comment is untouched.
    comment = get(client, f"/comments/{posted['comment']}", min_position=posted["position"])
    assert comment.json["comment"]["text"] == TEXT


# ---- one revision ---------------------------------------------------------------------


def test_a_moderator_erases_one_revision(app, client, thread, member, moderator):
    posted = post(client, member, thread["id"], TEXT)
    edited = edit(client, member, posted["comment"], EDITED, 1, reason="number removed")
    path = f"/comments/{posted['comment']}/revisions/1/erase"
    response = send(client, "POST", path, moderator, {"basis": "personal_data"})
    assert response.status_code == 200, response.json
    assert response.json["erased"] is True and response.json["position"] > edited["position"]
    position = response.json["position"]

    page = get(client, f"/threads/{thread['id']}", min_position=position).json
    assert node(page, posted["comment"])["text"] == EDITED  # the other revision stays
    for caller in (None, member, moderator):
        assert_gone(
            every_view(client, thread["id"], posted["comment"], posted["position"], caller),
            PHONE,
        )
    # Twice: 200, nothing new.
    before = app.head_position()
    again = send(client, "POST", path, moderator, {"basis": "personal_data"})
    assert again.status_code == 200 and again.json["erased"] is False
    assert app.head_position() == before


def test_erasing_an_unknown_revision_is_404_naming_it(app, client, thread, member, moderator):
    posted = post(client, member, thread["id"], TEXT)
    before = app.head_position()
    for revision in (2, 99, 0):
        error = refused(
            app,
            send(
                client,
                "POST",
                f"/comments/{posted['comment']}/revisions/{revision}/erase",
                moderator,
                {"basis": "legal"},
            ),
            404,
            "revision_not_found",
            before=before,
        )
        assert list(error["fields"]) == ["revision"], error
    path = f"/comments/{posted['comment']}/revisions/1/erase"
    refused(app, send(client, "POST", path, member, {"basis": "legal"}), 403, before=before)
    refused(app, send(client, "POST", path, None, {"basis": "legal"}), 401, before=before)
    refused(app, send(client, "POST", path, moderator, {"basis": "x"}), 422, before=before)


# ---- suppression ----------------------------------------------------------------------


def test_suppress_and_unsuppress_a_revision(app, client, thread, member, moderator):
    posted = post(client, member, thread["id"], "first words")
    edit(client, member, posted["comment"], TEXT, 1, reason="added my number")
    base = f"/comments/{posted['comment']}/revisions/2"
    response = send(client, "POST", f"{base}/suppress", moderator, {"reason": "doxxing"})
    assert response.status_code == 200, response.json
    position = response.json["position"]
    assert set(response.json) == {"id", "version", "position"}

    public = get(client, f"/threads/{thread['id']}", min_position=position).json
    shown = node(public, posted["comment"])
    assert shown["text"] is None and shown["placeholder"].startswith("withheld by a moderator")
    assert PHONE not in get(client, f"/comments/{posted['comment']}/history").get_data(True)
    as_moderator = get(client, f"/threads/{thread['id']}", moderator).json
    assert node(as_moderator, posted["comment"])["text"] == TEXT

    before = app.head_position()
    # The same way twice: 409; another way (the edit reason too): recorded.
    refused(
        app,
        send(client, "POST", f"{base}/suppress", moderator, {}),
        409,
        "invalid_transition",
        before=before,
    )
    both = send(client, "POST", f"{base}/suppress", moderator, {"edit_reason": True})
    assert both.status_code == 200, both.json
    unsuppressed = send(client, "POST", f"{base}/unsuppress", moderator, None)
    assert unsuppressed.status_code == 200, unsuppressed.json
    after = get(client, f"/threads/{thread['id']}", min_position=unsuppressed.json["position"])
    assert node(after.json, posted["comment"])["text"] == TEXT
    before = app.head_position()
    refused(
        app,
        send(client, "POST", f"{base}/unsuppress", moderator, {"reason": "again"}),
        409,
        "invalid_transition",
        before=before,
    )


def test_suppression_refusals(app, client, thread, member, moderator):
    posted = post(client, member, thread["id"], TEXT)
    cid = posted["comment"]
    suppress = f"/comments/{cid}/revisions/1/suppress"
    unsuppress = f"/comments/{cid}/revisions/1/unsuppress"
    before = app.head_position()
    for path in (suppress, unsuppress):
        refused(app, send(client, "POST", path, None, {}), 401, before=before)
        refused(app, send(client, "POST", path, member, {}), 403, before=before)
        error = refused(
            app,
            send(client, "POST", path.replace("/1/", "/5/"), moderator, {}),
            404,
            "revision_not_found",
            before=before,
        )
        assert "revision" in error["fields"]
    for body, field in (
        ({"text": "yes"}, "text"),
        ({"text": 1}, "text"),
        ({"edit_reason": None}, "edit_reason"),
        ({"text": False, "edit_reason": False}, "text"),
        ({"reason": "x" * 1001}, "reason"),
        ({"basis": "legal"}, "basis"),
    ):
        error = refused(app, send(client, "POST", suppress, moderator, body), 422, before=before)
        assert field in error["fields"], (body, error)
    # Nothing left to suppress once erased: 409 comment_erased.
    send(client, "POST", f"/comments/{cid}/erase", moderator, {"basis": "legal"})
    before = app.head_position()
    refused(
        app, send(client, "POST", suppress, moderator, {}), 409, "comment_erased", before=before
    )


# ---- an author's own data -------------------------------------------------------------


def test_the_export_holds_every_comment_and_revision_of_the_author(
    app, client, thread, member, other_member, moderator
):
    first = post(client, member, thread["id"], "my first comment")
    edit(client, member, first["comment"], "my first comment, edited", 1, reason="typo")
    second = post(client, member, thread["id"], TEXT)
    retracted = send(client, "DELETE", f"/comments/{second['comment']}", member, {"reason": "oops"})
    other = client.post(
        f"{API}/threads", json={"title": "Other", "key": "posts/other"}, headers=moderator.headers
    ).json
    third = post(client, member, other["id"], "in another thread")
    post(client, other_member, thread["id"], "not mine")
    erased = send(
        client,
        "POST",
        f"/comments/{third['comment']}/revisions/1/erase",
        moderator,
        {"basis": "legal"},
    ).json

    response = get(client, "/authors/me/export", member, min_position=erased["position"])
    assert response.status_code == 200, response.data[:300]
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="discuss-export-{member.id}.json"'
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.mimetype == "application/json"
    export = response.json
    assert export["author"]["id"] == str(member.id)
    assert export["author"]["name"] == "Ada" and export["author"]["role"] == "member"
    assert export["author"]["registered_at"] and export["author"]["erased"] is False
    ids = [c["id"] for c in export["comments"]]
    assert ids == [first["comment"], second["comment"], third["comment"]]
    assert "not mine" not in response.get_data(as_text=True)

    one, two, three = export["comments"]
    assert one["thread"] == {"id": thread["id"], "key": "posts/a-thread", "title": "A thread"}
    assert one["position"] == first["position"] and one["state"] == "visible"
    assert [(r["revision"], r["kind"], r["text"], r["edit_reason"]) for r in one["revisions"]] == [
        (1, "posted", "my first comment", None),
        (2, "edited", "my first comment, edited", "typo"),
    ]
    assert all(r["at"] and r["position"] and r["by_author"] for r in one["revisions"])
    # Their own retracted comment, text and reason included.
    assert two["state"] == "retracted" and two["revisions"][0]["text"] == TEXT
    assert two["changes"][0]["kind"] == "retracted"
    assert two["changes"][0]["reason"] == "oops" and two["changes"][0]["by"] == "author"
    assert two["changes"][0]["position"] == retracted.json["position"]
    # Erased content: listed as erased, with its date, no text.
    assert three["thread"]["key"] == "posts/other"
    revision = three["revisions"][0]
    assert revision["text"] is None and revision["text_withheld"]["why"] == "erased"
    assert revision["text_withheld"]["note"].startswith("erased on ")
    assert [c["kind"] for c in three["changes"]] == ["revision_erased"]
    assert three["changes"][0]["basis"] == "legal" and three["changes"][0]["by"] == "moderator"


def test_the_export_withholds_what_a_moderator_hid_from_its_author(
    client, thread, member, moderator
):
    posted = post(client, member, thread["id"], TEXT)
    hidden = send(
        client, "POST", f"/comments/{posted['comment']}/hide", moderator, {"reason": "doxx"}
    ).json
    export = get(client, "/authors/me/export", member, min_position=hidden["position"])
    assert PHONE not in export.get_data(as_text=True)
    assert "doxx" not in export.get_data(as_text=True)  # a moderation reason
    (comment,) = export.json["comments"]
    assert comment["state"] == "hidden"
    assert comment["revisions"][0]["text_withheld"]["why"] == "hidden"


@sqlite_only
def test_the_export_needs_a_signed_in_author(client, member):
    assert_error(get(client, "/authors/me/export"), 401)
    bad = {"Authorization": f"Bearer {member.id}.wrong"}
    assert_error(client.get(f"{API}/authors/me/export", headers=bad), 401)
    assert_error(get(client, "/authors/me/export", member, min_position="x"), 422)
    assert_error(get(client, "/authors/me/export", member, other=1), 422)


# ---- an author erases their own account -----------------------------------------------


def test_an_author_erases_their_account_and_everything_they_wrote(
    app, flask_app, client, thread, member, other_member
):
    mine = post(client, member, thread["id"], TEXT)
    also = post(client, member, thread["id"], "my second thought")
    reply = post(client, other_member, thread["id"], "a reply", parent_id=mine["comment"])
    mine_reply = post(client, member, thread["id"], "me again", parent_id=reply["comment"])
    before_export = get(client, "/authors/me/export", member, min_position=mine_reply["position"])
    assert TEXT in before_export.get_data(as_text=True)
    assert len(before_export.json["comments"]) == 3

    response = send(client, "DELETE", "/authors/me", member, ERASE_ACCOUNT)
    assert response.status_code == 200, response.json
    assert response.json["id"] == str(member.id)
    # 3 comments erased, the name released and the account: five events.
    assert response.json["position"] == app.head_position() == mine_reply["position"] + 5

    # The token answers 401 everywhere now.
    assert_error(get(client, "/authors/me", member), 401, "unauthenticated")
    assert_error(get(client, "/authors/me/export", member), 401)
    assert_error(post_raw(client, member, thread["id"], "still here?"), 401)

    page = get(client, f"/threads/{thread['id']}", min_position=response.json["position"])
    body = page.json
    gone = node(body, mine["comment"])
    assert gone["state"] == "erased" and gone["text"] is None and gone["author"] is None
    assert node(body, also["comment"])["state"] == "erased"
    kept = node(body, reply["comment"])  # others' replies stay, in place
    assert kept["text"] == "a reply" and kept["author"]["name"] == "Brian"
    assert node(body, mine_reply["comment"])["state"] == "erased"
    for caller in (None, other_member):
        bodies = every_view(client, thread["id"], mine["comment"], mine["position"], caller)
        assert_gone(bodies, PHONE, "my second thought", "me again")
    card = get(client, f"/authors/{member.id}")
    assert card.json["name"] == "erased author" and "Ada" not in card.get_data(as_text=True)

    # The export read directly (the author cannot sign in any more): none of the texts.
    services = flask_app.extensions["discuss"].services
    export = author_export(services.engine, services.app.get_author(member.id))
    assert export["author"] == {**export["author"], "name": None, "erased": True}
    assert len(export["comments"]) == 3
    for comment in export["comments"]:
        assert comment["state"] == "erased"
        assert all(r["text"] is None for r in comment["revisions"])
        assert all(r["text_withheld"]["why"] == "erased" for r in comment["revisions"])
    assert services.app.vault.live_keys(owner_id=str(member.id)) == 0


def post_raw(client, caller: Caller, thread_id: str, text: str):
    return client.post(
        f"{API}/threads/{thread_id}/comments", json={"text": text}, headers=caller.headers
    )


@sqlite_only
def test_erasing_an_account_needs_the_confirmation_phrase(app, client, thread, member):
    post(client, member, thread["id"], TEXT)
    before = app.head_position()
    refused(app, send(client, "DELETE", "/authors/me", None, ERASE_ACCOUNT), 401, before=before)
    for body, field in (
        ({"basis": "author_request"}, "confirm"),
        ({"basis": "author_request", "confirm": "yes"}, "confirm"),
        ({"basis": "author_request", "confirm": "Erase my account"}, "confirm"),
        ({"basis": "author_request", "confirm": " erase my account"}, "confirm"),
        ({"basis": "legal", "confirm": "erase my account"}, "basis"),
        ({"basis": "anything", "confirm": "erase my account"}, "basis"),
        ({**ERASE_ACCOUNT, "everything": True}, "everything"),
    ):
        error = refused(
            app, send(client, "DELETE", "/authors/me", member, body), 422, before=before
        )
        assert list(error["fields"]) == [field], (body, error)
        if field == "basis":
            assert "author_request" in error["fields"]["basis"][0]
    refused(app, send(client, "DELETE", "/authors/me", member, None), 415, before=before)
    # The account still works.
    assert get(client, "/authors/me", member).json["name"] == "Ada"


@sqlite_only
def test_an_erased_token_is_refused_by_every_process_at_once(app_factory, member, thread):
    """Another web process caches the author too: the account's Erased event, written
    by the first, makes its entry stale there at once (web/auth.py)."""
    one, other = app_factory().test_client(), app_factory()
    other_client = other.test_client()
    assert get(other_client, "/authors/me", member).status_code == 200  # cached there
    assert send(one, "DELETE", "/authors/me", member, ERASE_ACCOUNT).status_code == 200
    assert_error(get(other_client, "/authors/me", member), 401, "unauthenticated")


def test_erasing_an_author_with_fifty_comments_in_two_threads(
    app, flask_app, client, member, other_member, moderator, thread
):
    second = client.post(
        f"{API}/threads", json={"title": "Second", "key": "posts/second"}, headers=moderator.headers
    ).json
    mine, replies = [], []
    for n in range(50):
        thread_id = UUID(thread["id"] if n % 2 else second["id"])
        mine.append((thread_id, app.post_comment(member.id, thread_id, f"secret {n:02d}")))
        if n % 5 == 0:  # ten replies by another author, five in each thread
            replies.append(
                app.post_comment(
                    other_member.id, thread_id, f"reply {n}", parent_id=mine[-1][1].comment_id
                )
            )
    head = app.head_position()
    response = send(client, "DELETE", "/authors/me", member, ERASE_ACCOUNT)
    assert response.status_code == 200, response.json
    position = response.json["position"]
    # 50 comments, the name released and the account
    assert position == head + 52 == app.head_position()

    for thread_id in (thread["id"], second["id"]):
        body = get(client, f"/threads/{thread_id}", min_position=position, limit=200).json
        data = str(body)
        assert "secret" not in data
        states = [c["state"] for c in body["comments"]]
        assert states == ["erased"] * 25
        assert data.count("reply ") == 5  # the replies by others stay
    services = flask_app.extensions["discuss"].services
    assert services.app.vault.live_keys(owner_id=str(member.id)) == 0
    # Again: nothing new.
    assert_error(send(client, "DELETE", "/authors/me", member, ERASE_ACCOUNT), 401)
    before = app.head_position()
    again = services.app.erase_author(member.id, member.id, "author_request")
    assert again.position == before == app.head_position()


# ---- the document -----------------------------------------------------------------------


@sqlite_only
def test_the_openapi_document_lists_the_forgetting_endpoints(client):
    spec = client.get(f"{API}/openapi.json").json
    paths = spec["paths"]
    expected = {
        ("post", "/api/v1/comments/{comment_id}/erase"): {"200", "401", "403", "404", "422"},
        ("post", "/api/v1/comments/{comment_id}/revisions/{revision}/erase"): {"200", "404"},
        ("post", "/api/v1/comments/{comment_id}/revisions/{revision}/suppress"): {"409"},
        ("post", "/api/v1/comments/{comment_id}/revisions/{revision}/unsuppress"): {"409"},
        ("delete", "/api/v1/authors/me"): {"200", "401", "422"},
        ("get", "/api/v1/authors/me/export"): {"200", "401"},
    }
    for (method, path), statuses in expected.items():
        assert statuses <= set(paths[path][method]["responses"]), (method, path)
    basis = spec["components"]["schemas"]["EraseContent"]["properties"]["basis"]
    assert basis["enum"] == list(ERASURE_BASES)
    assert spec["components"]["schemas"]["EraseAccount"]["properties"]["confirm"]["enum"] == [
        "erase my account"
    ]
