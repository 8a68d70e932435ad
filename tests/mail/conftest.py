from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from domain.model import MODERATOR, OPERATOR_ID
from domain.settings import Settings
from tests.support.smtp import SmtpServer
from workers.bootstrap import bootstrap


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def services(database, smtp):
    """The application, projection engine and outbox of a command-line process (no
    runner thread: tests drive rounds themselves) with the test SMTP server."""
    settings = Settings.from_env(
        database=database, smtp_url=smtp.url, public_url="http://discuss.test", redis_url=None
    )
    built = bootstrap(settings)
    yield built
    built.close()


def link_in(message, path: str) -> str:
    body = message.get_content() if hasattr(message, "get_content") else message.get_payload()
    found = re.search(rf"http://discuss\.test{re.escape(path)}(\S+)", str(body))
    assert found, body
    return found.group(1)


def thread_with_comment(app, name: str = "alice"):
    moderator = app.register_author("mod", MODERATOR)
    thread = app.open_thread(OPERATOR_ID, "A thread", key="t-1")
    alice = app.register_author(name)
    posted = app.post_comment(alice.author_id, thread.thread_id, "first!")
    return moderator, thread, alice, posted
