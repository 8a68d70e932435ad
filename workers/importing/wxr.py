"""WordPress eXtended RSS (WXR 1.0, 1.1, 1.2): one thread per item that has comments.

Streamed: each `<item>` is turned into a ThreadSpec when it ends, then removed
from the tree, so memory holds one item at a time, whatever the file's size.

Decisions, per field of a `<wp:comment>`:

- `comment_id` is required (the comment's identity, used for stable ids and for
  replies); a comment without it is a malformed record: the import stops there.
- `comment_parent` empty or 0: a top-level comment; otherwise the id of the comment
  replied to, in the same item (any depth). A parent that is not in the item makes
  the reply top-level (counted as a note by the writer).
- Dates: `comment_date_gmt` (UTC), else `comment_date` (local time, read as UTC:
  WXR does not give the site's offset). A comment with neither is still imported,
  dated like its parent, or the thread's start for a top-level one, and counted as
  "undated": its words matter more than an unknown date, and this keeps it after
  what it replies to. An unreadable date is a malformed record.
- `comment_approved`: "1" visible; "0" pending, so imported held for review
  (rule "imported-pending": in the moderation queue, unseen by readers, never a
  "removed" placeholder); "spam" skipped as spam; "trash" and "post-trashed"
  skipped as trash. MISSING or empty (or any other value): held for review too
  (rule "imported-no-status") -- WordPress's own importer stores such a comment
  with an empty status, which WordPress does not show either.
- `comment_type`: "" or "comment" are comments; "pingback" and "trackback" are
  skipped and counted unless `include_pings`; any other type (e.g. WooCommerce's
  private "order_note") is skipped and counted as "type <name>".
- `comment_content` is HTML as typed in WordPress: newlines are kept (WordPress
  shows a newline as a line break and a blank line as a new paragraph).

Per item: the thread's key is its `<link>` (else its `<guid>`; an item with
comments and neither is malformed), its title the item's `<title>` (else the
key), its start `wp:post_date_gmt`, else `wp:post_date`, else `<pubDate>`.
Items without comments are ignored, whatever their type or status. The comments
of a post with a `wp:post_password` (WordPress shows them only to readers who
entered the password) or whose `wp:status` is "private" are imported held for
review (rules "imported-password-protected", "imported-private"): moderators see
them in the queue with that rule, and publish them by approving them.

Namespaces: WordPress's own importer (the WXR entity reader of WordPress's data
liberation project) accepts `wp` as any of http:// or https://wordpress.org/export/
1.0/, 1.1/ or 1.2/ ("Folks use a mixture of HTTP vs HTTPS protocols and version
numbers"); so does this reader, and no other. A file in which no `wp:comment` of
those namespaces is found stops with an error saying what was found instead (the
namespaces it declares, how many items): an import that finds nothing never
passes for one that worked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from workers.importing.dates import rfc822_date, wxr_date
from workers.importing.html_text import html_to_text
from workers.importing.specs import (
    HELD,
    NO_STATUS_IN_SOURCE,
    PASSWORD_PROTECTED,
    PENDING_IN_SOURCE,
    PRIVATE_POST,
    VISIBLE,
    CommentSpec,
    ImportFormatError,
    ImportSummary,
    ThreadSpec,
)
from workers.importing.xmlstream import Progress, local_name, xml_events

WXR_NAMESPACES = tuple(
    f"{scheme}://wordpress.org/export/{version}/"
    for version in ("1.0", "1.1", "1.2")
    for scheme in ("http", "https")
)
_WP = frozenset("{" + uri + "}" for uri in WXR_NAMESPACES)
_WP_COMMENT = frozenset(ns + "comment" for ns in _WP)
PINGS = ("pingback", "trackback")


def read_wxr(
    path: str | Path,
    summary: ImportSummary,
    *,
    include_pings: bool = False,
    progress: Progress | None = None,
) -> Iterator[ThreadSpec]:
    depth = 0  # of the current element: rss 1, channel 2, item 3, wp:comment 4
    channel = item = None
    comments: list[CommentSpec] = []
    comment_line = item_line = 0
    declared: set[str] = set()
    found = summary.found
    for line, events in xml_events(path, progress, declared):
        for event, element in events:
            if event == "start":
                depth += 1
                if depth == 4:
                    if item is not None and _is_comment(element.tag):
                        comment_line = line
                elif depth == 3:
                    if element.tag == "item":
                        item, item_line, comments = element, line, []
                        found["items"] += 1
                elif depth == 2:
                    channel = element
                elif depth == 1 and element.tag != "rss":
                    root = local_name(element.tag)
                    raise ImportFormatError(
                        path, line, f"not a WordPress export: the root element is <{root}>"
                    )
                continue
            depth -= 1  # now the depth of the element's parent
            if depth == 3:
                if item is not None and _is_comment(element.tag):
                    comments.append(_comment(path, element, comment_line, item, include_pings))
                    found["comments"] += 1
                    element.clear()
            elif depth == 2:
                channel.remove(element)  # an item, or anything else in the channel
                if element is item:
                    spec = _thread(path, item, comments, item_line) if comments else None
                    item, comments = None, []
                    if spec is not None:
                        yield spec
    if not found["comments"]:
        raise ImportFormatError(path, None, _nothing_found(declared, found["items"]))


def _nothing_found(declared: set[str], items: int) -> str:
    """What a file without a single WordPress comment holds instead, for the error."""
    wordpress = sorted(uri for uri in declared if "wordpress.org/export/" in uri)
    known = [uri for uri in wordpress if uri in WXR_NAMESPACES]
    if known:
        return (
            f"no comments: {items} item(s) in the {', '.join(known)} namespace, none with a"
            " wp:comment; nothing to import"
        )
    readable = ", ".join(WXR_NAMESPACES)
    if wordpress:
        return (
            f"no comments WordPress could read: the file declares {', '.join(wordpress)},"
            f" not one of the namespaces WordPress's importer reads ({readable});"
            f" {items} item(s) found"
        )
    return (
        "not a WordPress export: no WordPress export namespace (WordPress reads"
        f" {readable}); the file declares {', '.join(sorted(declared)) or 'no namespace'},"
        f" {items} item(s), no wp:comment"
    )


def _is_comment(tag: str) -> bool:
    return tag in _WP_COMMENT


def _fields(element: ET.Element) -> dict[str, str]:
    """Texts of the direct children: WordPress's as "wp:name", others by local name."""
    fields: dict[str, str] = {}
    for child in element:
        tag = child.tag
        split = tag.rfind("}") + 1
        name = tag[split:]
        if tag[:split] in _WP:
            name = "wp:" + name
        fields.setdefault(name, child.text or "")
    return fields


def _comment(
    path: str | Path, element: ET.Element, line: int, item: ET.Element, include_pings: bool
) -> CommentSpec:
    f = _fields(element)
    source_id = f.get("wp:comment_id", "").strip()
    where = f"in the item {(item.findtext('link') or item.findtext('title') or '').strip()!r}"
    if not source_id:
        raise ImportFormatError(path, line, f"a comment {where} has no wp:comment_id")
    parent_id = f.get("wp:comment_parent", "").strip()
    try:
        at = wxr_date(f.get("wp:comment_date_gmt")) or wxr_date(f.get("wp:comment_date"))
    except ValueError as error:
        raise ImportFormatError(path, line, f"comment {source_id} {where}: {error}") from None

    spec = CommentSpec(
        source_id=source_id,
        parent_source_id=None if parent_id in ("", "0") else parent_id,
        author_name=f.get("wp:comment_author", ""),
        text=html_to_text(f.get("wp:comment_content", ""), keep_newlines=True),
        at=at,
        line=line,
    )
    approved = f.get("wp:comment_approved", "").strip().lower()
    if approved == "1":
        spec.state = VISIBLE
    elif approved == "0":
        spec.state, spec.reason = HELD, PENDING_IN_SOURCE
    elif approved == "spam":
        spec.skip = "spam"
    elif approved in ("trash", "post-trashed"):
        spec.skip = "trash"
    else:
        spec.state, spec.reason = HELD, NO_STATUS_IN_SOURCE

    kind = f.get("wp:comment_type", "").strip().lower()
    if kind in PINGS and not include_pings:
        spec.skip = spec.skip or kind
    elif kind not in ("", "comment", *PINGS):
        spec.skip = spec.skip or f"type {kind}"
    return spec


def _thread(
    path: str | Path, item: ET.Element, comments: list[CommentSpec], line: int
) -> ThreadSpec:
    f = _fields(item)
    key = f.get("link", "").strip() or f.get("guid", "").strip()
    post_id = f.get("wp:post_id", "").strip()
    if not key:
        raise ImportFormatError(
            path, line, f"the item {post_id or f.get('title', '')!r} has comments but no <link>"
        )
    try:
        at = (
            wxr_date(f.get("wp:post_date_gmt"))
            or wxr_date(f.get("wp:post_date"))
            or rfc822_date(f.get("pubDate"))
        )
    except ValueError as error:
        raise ImportFormatError(path, line, f"the item {key!r}: {error}") from None
    # Not public in WordPress: neither here until a moderator approves them.
    rule = None
    if f.get("wp:post_password", "").strip():
        rule = PASSWORD_PROTECTED
    elif f.get("wp:status", "").strip().lower() == "private":
        rule = PRIVATE_POST
    if rule is not None:
        for comment in comments:
            if comment.state == VISIBLE:
                comment.state, comment.reason = HELD, rule
    return ThreadSpec(
        key=key,
        title=f.get("title", ""),
        at=at,
        comments=comments,
        source_id=post_id or key,
        line=line,
    )
