"""Jinja filters and globals of the pages: readable dates, plural words."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_time(value) -> str:
    """For <time datetime=…>: ISO 8601 in UTC, to the second."""
    moment = parse_time(value)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else ""


def readable_time(value) -> str:
    """A date people read without JavaScript: '3 March 2024 at 14:05 UTC'."""
    moment = parse_time(value)
    if moment is None:
        return ""
    return f"{moment.day} {moment:%B %Y} at {moment:%H:%M} UTC"


def exact_time(value) -> str:
    """To the second, for tooltips: '3 March 2024, 14:05:09 UTC'."""
    moment = parse_time(value)
    if moment is None:
        return ""
    return f"{moment.day} {moment:%B %Y}, {moment:%H:%M:%S} UTC"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


def register(app: Flask) -> None:
    app.add_template_filter(iso_time, "iso_time")
    app.add_template_filter(readable_time, "readable_time")
    app.add_template_filter(exact_time, "exact_time")
    app.add_template_global(plural, "plural")
    from web.pages.common import comment_links

    app.add_template_global(comment_links, "comment_links")
