"""`?at=` on a thread page names a position of the log: anything else is refused with
the error page, never silently the live thread or a past view of a moment that was not."""

from __future__ import annotations

import pytest

from tests.pages.conftest import THREAD_URL as DEMO


@pytest.fixture
def demo(client, flask_app) -> int:
    """The demo thread is there; the head of the log."""
    assert client.get(DEMO).status_code == 200
    return flask_app.extensions["discuss"].services.app.head_position()


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "1.5", ""])
def test_an_at_that_is_not_a_position_is_a_400(client, demo, raw):
    response = client.get(DEMO, query_string={"at": raw})
    assert response.status_code == 400
    assert "?at= takes a position of the log" in response.get_data(as_text=True)
    assert "You are viewing this thread as it was" not in response.get_data(as_text=True)


def test_an_at_beyond_the_log_is_a_404_naming_the_latest(client, demo):
    response = client.get(DEMO, query_string={"at": demo + 1000})
    assert response.status_code == 404
    assert f"its latest is {demo}" in response.get_data(as_text=True)


def test_an_at_within_the_log_is_a_past_view(client, demo):
    response = client.get(DEMO, query_string={"at": demo})
    assert response.status_code == 200
    assert "You are viewing this thread as it was" in response.get_data(as_text=True)
