"""The sources' date formats, to timezone-aware UTC datetimes.

Each parser returns None for a missing date and raises ValueError (with the value
in the message) for one it cannot read; readers turn that into an error naming
the record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

WXR_EMPTY_DATES = ("", "0000-00-00 00:00:00")


def wxr_date(value: str | None) -> datetime | None:
    """WordPress's "YYYY-MM-DD HH:MM:SS"; "0000-00-00 00:00:00" (drafts) is no date.

    `*_date_gmt` values are UTC. A local `*_date` carries no offset and WXR does not
    say the site's time zone, so it is read as UTC too (only used as a fallback)."""
    value = (value or "").strip()
    if value in WXR_EMPTY_DATES:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # what strptime would accept, and faster
    except ValueError:
        raise ValueError(f"the date {value!r} is not YYYY-MM-DD HH:MM:SS") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def rfc822_date(value: str | None) -> datetime | None:
    """RSS's pubDate, e.g. "Tue, 14 Jan 2014 17:31:03 +0000"."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise ValueError(f"the date {value!r} is not an RFC 822 date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_date(value: str | None) -> datetime | None:
    """ISO 8601 / RFC 3339 ("2013-10-10T19:20:29Z", with up to nanoseconds, any offset).

    A date without an offset is read as UTC."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"the date {value!r} is not an ISO 8601 date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
