"""Disqus XML export: `<thread>`s and `<post>`s, in any order.

Posts name their thread and parent by `dsq:id`, and may come before them in the
file, so threads can only be complete at the end of the file. The file is
streamed (each element removed once read: no DOM is kept) and the posts are
spooled to disk (`spool.CommentSpool`) until the end, then the threads are yielded
one by one: memory holds one thread (and a small record per thread), whatever the
number of posts.

Decisions:

- A thread's key is its `<link>`; without one, its `<id>` (the site's identifier,
  often the URL too); without either (e.g. `<thread><id/></thread>`), the thread
  cannot be attached to a page: its posts are skipped, counted as
  "thread without link". An empty `<id/>` with a link is fine: the link is used.
  Threads with the same key (Disqus keeps duplicates, e.g. after a URL change)
  become one thread. The title is the first non-empty `<title>`, else the key.
- A post needs a `dsq:id` (its identity, used by replies and for stable ids); a
  post without one, or with an `isSpam`/`isDeleted` other than true/false, or an
  unreadable `createdAt`, is a malformed record: the import stops, naming its line.
- A post whose thread is not in the file is an orphan: not imported, its id listed
  in the summary. A post without `<thread>` is an orphan too.
- `isSpam` true: skipped, counted as spam (before anything else).
- `isDeleted` true: imported retracted ("deleted in source") with a placeholder
  text -- never the message, which its author deleted -- so that its replies keep
  their place.
- A parent that is not in the thread: the reply becomes top-level (a note).
- The message is rendered HTML: whitespace is collapsed as a browser would.
- The author is `<name>`, else `<username>`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from workers.importing.dates import iso_date
from workers.importing.html_text import html_to_text
from workers.importing.specs import (
    RETRACTED,
    CommentSpec,
    ImportFormatError,
    ImportSummary,
    Orphan,
    ThreadSpec,
)
from workers.importing.spool import CommentSpool
from workers.importing.xmlstream import Progress, local_name, text_of, xml_events

NS = "{http://disqus.com}"
DSQ_ID = "{http://disqus.com/disqus-internals}id"


@dataclass
class _Thread:
    dsq_id: str
    key: str
    title: str
    at: datetime | None
    line: int


@dataclass
class _Group:
    key: str
    title: str
    at: datetime | None
    line: int
    source_id: str
    dsq_ids: list[str] = field(default_factory=list)


def read_disqus(
    path: str | Path, summary: ImportSummary, *, progress: Progress | None = None
) -> Iterator[ThreadSpec]:
    with CommentSpool() as spool:
        yield from _read(path, summary, spool, progress)


def _read(
    path: str | Path, summary: ImportSummary, spool: CommentSpool, progress: Progress | None
) -> Iterator[ThreadSpec]:
    threads: dict[str, _Thread] = {}
    depth = 0  # of the current element: disqus 1, its records 2
    root = None
    record_line = 0
    for line, events in xml_events(path, progress):
        for event, element in events:
            if event == "start":
                depth += 1
                if depth == 2:
                    record_line = line
                elif depth == 1:
                    root = element
                    if element.tag != f"{NS}disqus":
                        name = local_name(element.tag)
                        raise ImportFormatError(
                            path, line, f"not a Disqus export: the root element is <{name}>"
                        )
                continue
            depth -= 1
            if depth != 1:  # only the root's children are records
                continue
            name = local_name(element.tag)
            if name == "thread":
                thread = _thread(path, element, record_line)
                if thread.dsq_id in threads:
                    raise ImportFormatError(
                        path, record_line, f"thread dsq:id {thread.dsq_id} appears twice"
                    )
                threads[thread.dsq_id] = thread
            elif name == "post":
                thread_id, post = _post(path, element, record_line)
                spool.add(thread_id or "", post)  # "": no <thread>
            root.remove(element)

    yield from _group(threads, spool, summary)


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return element.find(f"{NS}{name}")


def _date(path, element: ET.Element, line: int, what: str) -> datetime | None:
    try:
        return iso_date(text_of(_child(element, "createdAt")))
    except ValueError as error:
        raise ImportFormatError(path, line, f"{what}: {error}") from None


def _flag(path, element: ET.Element, name: str, line: int, what: str) -> bool:
    value = text_of(_child(element, name)).lower()
    if value not in ("", "true", "false"):
        raise ImportFormatError(path, line, f"{what}: <{name}> is {value!r}, not true or false")
    return value == "true"


def _thread(path, element: ET.Element, line: int) -> _Thread:
    dsq_id = element.get(DSQ_ID, "").strip()
    if not dsq_id:
        raise ImportFormatError(path, line, "a <thread> has no dsq:id")
    key = text_of(_child(element, "link")) or text_of(_child(element, "id"))
    return _Thread(
        dsq_id=dsq_id,
        key=key,
        title=text_of(_child(element, "title")),
        at=_date(path, element, line, f"thread {dsq_id}"),
        line=line,
    )


def _post(path, element: ET.Element, line: int) -> tuple[str | None, CommentSpec]:
    dsq_id = element.get(DSQ_ID, "").strip()
    if not dsq_id:
        raise ImportFormatError(path, line, "a <post> has no dsq:id")
    what = f"post {dsq_id}"
    thread = _child(element, "thread")
    parent = _child(element, "parent")
    author = _child(element, "author")
    name = ""
    if author is not None:
        name = text_of(author.find(f"{NS}name")) or text_of(author.find(f"{NS}username"))
    spam = _flag(path, element, "isSpam", line, what)
    deleted = _flag(path, element, "isDeleted", line, what)
    message = _child(element, "message")
    spec = CommentSpec(
        source_id=dsq_id,
        parent_source_id=(parent.get(DSQ_ID, "").strip() or None) if parent is not None else None,
        author_name=name,
        text="" if deleted or message is None else html_to_text(message.text),
        at=_date(path, element, line, what),
        line=line,
    )
    if spam:
        spec.skip = "spam"
    elif deleted:
        spec.state, spec.reason = RETRACTED, "deleted in source"
    thread_id = thread.get(DSQ_ID, "").strip() if thread is not None else ""
    return thread_id or None, spec


def _group(
    threads: dict[str, _Thread], spool: CommentSpool, summary: ImportSummary
) -> Iterator[ThreadSpec]:
    groups: dict[str, _Group] = {}
    for thread in threads.values():  # file order: the first thread of a key names it
        group = groups.get(thread.key) if thread.key else None
        if group is None and thread.key:
            group = groups[thread.key] = _Group(
                thread.key, thread.title, thread.at, thread.line, thread.dsq_id
            )
        elif group is not None:
            group.title = group.title or thread.title
            if thread.at and (group.at is None or thread.at < group.at):
                group.at = thread.at
        if group is not None:
            group.dsq_ids.append(thread.dsq_id)
    for thread_id in spool.groups():
        thread = threads.get(thread_id) if thread_id else None
        if thread is None:
            summary.orphans.extend(
                Orphan(post.source_id, post.line, "thread missing")
                for post in spool.comments([thread_id])
            )
        elif not thread.key:
            summary.skipped["thread without link"] += len(spool.comments([thread_id]))
    for group in groups.values():
        comments = spool.comments(group.dsq_ids)
        if comments:
            yield ThreadSpec(
                key=group.key,
                title=group.title,
                at=group.at,
                comments=comments,
                source_id=group.source_id,
                line=group.line,
            )
