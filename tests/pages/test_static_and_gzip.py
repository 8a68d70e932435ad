"""gzip for text responses, and static files under versioned URLs cached for a year.

Compressed: pages, CSS and JS of at least 1 KB, when Accept-Encoding takes gzip
(the JSON API is left byte for byte as it was). A compressed response's strong ETag
becomes weak, and If-None-Match with it still answers 304 from the view (the thread
page's cached bytes are never re-encoded on a revalidation); gzipped bytes of a
strong-ETag response are kept, so the same body is compressed once.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest

import web.compression
from tests.pages.conftest import THREAD_URL, demo_thread_id, sign_in
from web.assets import IMMUTABLE, StaticVersions

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def vary(response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("Vary", "").split(",") if v.strip()}


@pytest.fixture
def compressions(monkeypatch) -> list[int]:
    """The sizes of the bodies gzipped during the test."""
    sizes: list[int] = []
    real = web.compression.compress

    def counted(data: bytes) -> bytes:
        sizes.append(len(data))
        return real(data)

    monkeypatch.setattr(web.compression, "compress", counted)
    return sizes


# ---- gzip ------------------------------------------------------------------------


def test_a_page_is_gzipped_for_a_client_that_takes_it(client):
    plain = client.get(THREAD_URL)
    zipped = client.get(THREAD_URL, headers=GZIP)
    assert plain.status_code == zipped.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 3
    assert int(zipped.headers["Content-Length"]) == len(zipped.data)
    # Both say they vary on the encoding, and the page still varies on the cookie.
    assert {"accept-encoding", "cookie"} <= vary(plain)
    assert {"accept-encoding", "cookie"} <= vary(zipped)


def test_the_compressed_etag_is_weak_and_still_revalidates(client, compressions):
    plain = client.get(THREAD_URL)
    zipped = client.get(THREAD_URL, headers=GZIP)
    etag = plain.headers["ETag"]
    assert etag.startswith('"') and zipped.headers["ETag"] == f"W/{etag}"
    assert len(compressions) == 1
    for validator in (zipped.headers["ETag"], etag):
        again = client.get(THREAD_URL, headers={**GZIP, "If-None-Match": validator})
        assert again.status_code == 304, validator
        assert again.data == b"" and "Content-Encoding" not in again.headers
    assert len(compressions) == 1, "a 304 is never compressed"


def test_an_unchanged_body_is_compressed_once(client, compressions):
    first = client.get(THREAD_URL, headers=GZIP)
    second = client.get(THREAD_URL, headers=GZIP)
    assert first.data == second.data
    assert len(compressions) == 1


@pytest.mark.parametrize("accept", ["", "identity", "gzip;q=0", "br", "deflate, br;q=0.5"])
def test_no_gzip_unless_asked_for(client, accept):
    response = client.get(THREAD_URL, headers={"Accept-Encoding": accept})
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert response.data.startswith(b"<!doctype html>")


def test_a_signed_in_page_without_an_etag_is_compressed_too(client):
    sign_in(client, "Ada")
    response = client.get(THREAD_URL, headers=GZIP)
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"Signed in as" in gzip.decompress(response.data)
    assert "private" in response.headers["Cache-Control"]


def test_the_api_is_left_byte_for_byte_with_its_etags(client, flask_app, compressions):
    url = f"/api/v1/threads/{demo_thread_id(flask_app)}"
    plain = client.get(url)
    asked = client.get(url, headers=GZIP)
    assert len(plain.data) > web.compression.MIN_SIZE
    assert "Content-Encoding" not in asked.headers and asked.data == plain.data
    assert asked.headers["ETag"] == plain.headers["ETag"] and asked.headers["ETag"][0] == '"'
    assert "accept-encoding" not in vary(asked)
    revalidated = client.get(url, headers={**GZIP, "If-None-Match": asked.headers["ETag"]})
    assert revalidated.status_code == 304 and revalidated.data == b""
    assert compressions == []


def test_small_responses_are_left_alone(client):
    response = client.get("/api/v1/health", headers=GZIP)
    assert len(response.data) < web.compression.MIN_SIZE
    assert "Content-Encoding" not in response.headers
    assert "accept-encoding" not in vary(response)


def test_redirects_and_missing_files_are_left_alone(client):
    reply = re.search(
        r'href="(/c/[0-9a-f-]+/reply)"', client.get(THREAD_URL).get_data(as_text=True)
    )
    redirect = client.get(reply.group(1), headers=GZIP)  # signed out: to the sign-in page
    assert redirect.status_code == 302 and "Content-Encoding" not in redirect.headers
    missing = client.get("/static/css/none.css", headers=GZIP)
    assert missing.status_code == 404 and "Content-Encoding" not in missing.headers


# ---- static files ------------------------------------------------------------------


def digest(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def test_pages_link_static_files_by_content_hash(client):
    html = client.get(THREAD_URL).get_data(as_text=True)
    for name in ("css/site.css", "js/time.js", "js/inline-forms.js", "js/timeline.js"):
        assert f'"/static/{name}?v={digest(name)}"' in html, name
    assert not re.search(r'"/static/[^"?]+"', html), "every static URL is versioned"


def test_a_versioned_static_file_is_cached_for_a_year(client):
    url = f"/static/css/site.css?v={digest('css/site.css')}"
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.data == (STATIC / "css/site.css").read_bytes()
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Cache-Control"] == IMMUTABLE


@pytest.mark.parametrize("query", ["", "?v=0123456789ab", "?v="])
def test_an_unversioned_or_stale_url_is_revalidated(client, query):
    response = client.get(f"/static/css/site.css{query}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"


def test_static_text_is_gzipped_and_revalidates(client, compressions):
    url = f"/static/css/site.css?v={digest('css/site.css')}"
    zipped = client.get(url, headers=GZIP)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == (STATIC / "css/site.css").read_bytes()
    assert zipped.headers["ETag"].startswith("W/")
    assert zipped.headers["Cache-Control"] == IMMUTABLE
    assert "Accept-Ranges" not in zipped.headers
    client.get(url, headers=GZIP)
    assert len(compressions) == 1
    again = client.get(url, headers={**GZIP, "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304


def test_a_changed_file_gets_a_new_version(tmp_path):
    (tmp_path / "app.css").write_text("body { color: red }")
    versions = StaticVersions(str(tmp_path))
    first = versions.version("app.css")
    assert first == hashlib.sha256(b"body { color: red }").hexdigest()[:12]
    assert versions.version("app.css") == first
    (tmp_path / "app.css").write_text("body { color: blue; }")
    assert versions.version("app.css") not in (None, first)
    assert versions.version("missing.css") is None
    assert versions.version("../etc/passwd") is None
