"""Comments kept on disk until the end of the file, for sources whose threads are
scattered through it (Disqus, Remark42, Commento): memory stays flat whatever the
number of comments.

A temporary SQLite file (deleted on close) holds each comment as a pickled
CommentSpec under its group's key (a thread's id or URL), in file order, with an
index to read a group back; and, for sources that name people by id before saying
who they are (Commento's commenters come after the comments), a table of names.
Pickle is safe here: the spool only ever reads what this process wrote.
"""

from __future__ import annotations

import pickle
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from workers.importing.specs import CommentSpec


class CommentSpool:
    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="discuss-import-")
        self._db = sqlite3.connect(Path(self._directory.name) / "spool.db")
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE items (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, spec BLOB);"
            "CREATE INDEX items_key ON items (key, seq);"
            "CREATE TABLE names (id TEXT PRIMARY KEY, name TEXT NOT NULL);"
        )

    def __enter__(self) -> CommentSpool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._directory.cleanup()

    def add(self, key: str, comment: CommentSpec) -> None:
        self._db.execute(
            "INSERT INTO items (key, spec) VALUES (?, ?)", (key, pickle.dumps(comment, 5))
        )

    def groups(self) -> list[str]:
        """Every group's key, in the order of its first comment in the file."""
        rows = self._db.execute("SELECT key FROM items GROUP BY key ORDER BY min(seq)")
        return [key for (key,) in rows]

    def comments(self, keys: Iterable[str]) -> list[CommentSpec]:
        """The comments of these groups, in file order."""
        keys = list(keys)
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(f"SELECT spec FROM items WHERE key IN ({marks}) ORDER BY seq", keys)
        return [pickle.loads(spec) for (spec,) in rows]

    def all(self) -> Iterator[tuple[str, CommentSpec]]:
        """(key, comment) for every comment, in file order."""
        for key, spec in self._db.execute("SELECT key, spec FROM items ORDER BY seq"):
            yield key, pickle.loads(spec)

    def name(self, person_id: str, name: str | None = None) -> str | None:
        """Remember a person's name (with `name`), or look it up (None if unknown)."""
        if name is not None:
            self._db.execute("INSERT OR REPLACE INTO names VALUES (?, ?)", (person_id, name))
            return name
        row = self._db.execute("SELECT name FROM names WHERE id = ?", (person_id,)).fetchone()
        return None if row is None else row[0]
