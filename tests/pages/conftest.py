"""Fixtures of the page tests: the Flask app on a fresh SQLite store with the demo
thread loaded, its test client, and helpers that sign in and send forms the way a
browser does (with the CSRF token of the page the form is on)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from domain.model import MODERATOR
from domain.settings import Database, Settings
from web import create_app
from workers.bootstrap import forget_services
from workers.seed import DEMO_KEY, load_seed

SEED_FILE = Path(__file__).resolve().parents[2] / "workers" / "data" / "seed-thread.json"
THREAD_URL = f"/t/{DEMO_KEY}"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "app_settings(**values): Settings values of flask_app")


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch) -> None:
    monkeypatch.setenv("DISCUSS_SECRET_KEY", "page-tests-secret")


@pytest.fixture
def flask_app(sqlite_database: Database, request) -> Iterator[Flask]:
    """The app; `@pytest.mark.app_settings(name=value)` changes its Settings."""
    settings = dict(
        redis_url=None,
        embedded_runner=True,
        write_rate_limit="10000 per minute",
    )
    marker = request.node.get_closest_marker("app_settings")
    if marker:
        settings.update(marker.kwargs)
    flask_app = create_app(Settings.from_env(database=sqlite_database, **settings))
    runtime = flask_app.extensions["discuss"]
    seeded = load_seed(runtime.services.app)
    assert runtime.wait_for(seeded.position, timeout=10)
    yield flask_app
    runtime.stop()
    forget_services()


@pytest.fixture
def client(flask_app: Flask) -> FlaskClient:
    return flask_app.test_client()


@pytest.fixture
def seed() -> dict:
    return json.loads(SEED_FILE.read_text(encoding="utf-8"))


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.data[:300])
    return response.get_data(as_text=True)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def send(client: FlaskClient, form_page: str, action: str, data: dict, **kwargs):
    """Open `form_page`, then post `data` to `action` with that page's CSRF token."""
    token = csrf_of(page(client, form_page))
    return client.post(action, data={"csrf_token": token, **data}, **kwargs)


def hidden_fields(html: str, action: str) -> dict[str, str]:
    """The hidden inputs of the form on `html` that posts to `action`, as a browser
    sends them (the edit form's expected_version, a post's client_key...)."""
    found = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S)
    assert found, f"no form posting to {action}"
    inputs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', found.group(1))
    return {name: unescape(value) for name, value in inputs}


def send_form(client: FlaskClient, form_page: str, action: str, data: dict, **kwargs):
    """Like `send`, with the form's own hidden fields too (what it posts, overridden by
    `data`)."""
    html = page(client, form_page)
    return client.post(action, data={**hidden_fields(html, action), **data}, **kwargs)


CONTINUE = re.compile(r'<a class="button" id="token-saved" href="([^"]*)"')


def continue_url(html: str) -> str:
    """Where the "I have saved my token" link of the page after sign-up goes."""
    found = CONTINUE.search(html)
    assert found, "not the page that shows the new token"
    return unescape(found.group(1))


def sign_in(client: FlaskClient, name: str) -> None:
    """Sign up by name: the answer is the page that shows the token once, to save."""
    response = send(client, "/signin", "/signin", {"how": "name", "name": name, "next": "/"})
    assert response.status_code == 200, response.data[:500]
    assert "Save your token" in response.get_data(as_text=True)


def sign_in_moderator(client: FlaskClient, flask_app: Flask, name: str = "Mod") -> None:
    registration = flask_app.extensions["discuss"].services.app.register_author(name, MODERATOR)
    response = send(
        client, "/signin", "/signin", {"how": "token", "token": registration.token, "next": "/"}
    )
    assert response.status_code == 302, response.data[:500]


def demo_thread_id(flask_app: Flask) -> str:
    return str(flask_app.extensions["discuss"].services.app.thread_id_for_key(DEMO_KEY))


def comment_ids(html: str) -> list[str]:
    return re.findall(r'<li class="comment [^"]*" id="c-([0-9a-f-]+)"', html)


def numbered(html: str) -> list[tuple[str, str]]:
    """[(number, comment id)] in page order."""
    found = re.findall(
        r'<li class="comment [^"]*" id="c-([0-9a-f-]+)" data-number="([0-9.]+)"', html
    )
    return [(number, comment_id) for comment_id, number in found]


class _Tree(HTMLParser):
    """The nesting of the comments of a page: [(number, author, [replies…])]."""

    def __init__(self):
        super().__init__()
        self.roots: list[list] = []
        self.stack: list[list | None] = []  # one entry per open <li>: a node or None
        self.in_author = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "li":
            if "comment" in classes:
                node = [attrs.get("data-number"), None, []]
                parent = next((n for n in reversed(self.stack) if n is not None), None)
                (parent[2] if parent else self.roots).append(node)
                self.stack.append(node)
            else:
                self.stack.append(None)
        elif tag == "span" and "comment__author" in classes:
            self.in_author = True

    def handle_endtag(self, tag):
        if tag == "li" and self.stack:
            self.stack.pop()
        elif tag == "span":
            self.in_author = False

    def handle_data(self, data):
        if self.in_author:
            node = next((n for n in reversed(self.stack) if n is not None), None)
            if node is not None and node[1] is None:
                node[1] = data.strip()


def comment_tree(html: str) -> list:
    parser = _Tree()
    parser.feed(html)
    return [_freeze(n) for n in parser.roots]


def _freeze(node: list) -> tuple:
    return (node[0], node[1], [_freeze(r) for r in node[2]])


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))
