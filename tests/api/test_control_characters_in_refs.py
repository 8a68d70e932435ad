"""A thread named by a key with a control character (NUL above all) in a page's path or
a query value: no such thread (404), or the page's own refusal, on both backends —
PostgreSQL refuses NUL in a query string, which once made these pages a 500. Found
while hunting issue 12's class of bug (values a route cannot serve) on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.api.conftest import API

REFS = ["%00", "a%00b", "%0D%0A", "%1B[31m", "%7F"]


@pytest.mark.parametrize("ref", REFS)
def test_a_thread_ref_with_control_characters_names_no_thread(client, thread, moderator, ref):
    for url in (f"/t/{ref}", f"{API}/threads/by-key/{ref}"):
        response = client.get(url, headers=moderator.headers)
        assert response.status_code == 404, (url, response.status_code)
    response = client.get(f"/audit?thread={ref}", headers=moderator.headers)
    if ref == "%0D%0A":  # blank once trimmed: no filter at all
        assert response.status_code == 200
    else:
        assert response.status_code == 422, response.status_code
        assert "No thread with id or key" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["after_thread=a%00|b", "after_thread=2020-01-01|%00", "after_thread=%00"]
)
def test_a_list_cursor_with_control_characters_is_a_400_page(client, thread, query):
    response = client.get(f"/?{query}")
    assert response.status_code == 400, response.status_code
    assert "Error 400" in response.get_data(as_text=True)
