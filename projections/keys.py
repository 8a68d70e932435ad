"""The data-key table, beside the events in the event store's own database.

- Written atomically with the events: the application passes the new events' data
  keys to `save(..., data_keys=[...])`, which the library hands to the recorder's
  `_insert_events` inside its transaction; the recorders below insert them there.
- Read when content is shown: `Opener` fetches the keys of the values it is asked to
  open in one query, unwraps them with the master key and decrypts.
- Destroyed by erasure: the wrapped key is overwritten with NULL and the row kept (it
  says what was erased and when). On SQLite the store runs with `secure_delete`, and
  the WAL is checkpointed and truncated after an erasure, so the old bytes are zeroed
  in the file; on PostgreSQL the table is vacuumed, so the dead row versions that
  still held the wrapped keys are removed from its pages (VACUUM FULL rewrites it).
- Nothing else in the product ever holds a raw data key beyond one read.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from domain.sealing import (
    CHECK_KEY_ID,
    DataKey,
    MasterKey,
    MasterKeyError,
    is_sealed,
    key_id_of,
    open_sealed,
)
from domain.settings import Database

TABLE = "discuss_data_keys"
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    key_id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    comment_id TEXT,
    version INTEGER NOT NULL,
    wrapped BYTEA,
    created_at TEXT NOT NULL,
    destroyed_at TEXT)"""
INDEXES = [
    f"CREATE INDEX IF NOT EXISTS {TABLE}_owner ON {TABLE} (owner_id)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_comment ON {TABLE} (comment_id, version)",
]
_INSERT = (
    f"INSERT INTO {TABLE} (key_id, owner_id, comment_id, version, wrapped, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
# Placeholder opened values say why there is no text.
UNAVAILABLE = object()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _rows(keys: Sequence[DataKey]) -> list[tuple]:
    now = _now()
    return [(k.key_id, k.owner_id, k.comment_id, k.version, k.wrapped, now) for k in keys]


class SQLiteKeyedRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, inserting the events' data keys in its transaction."""

    stores_data_keys = True

    def _insert_events(self, c, stored_events, *, data_keys: Sequence[DataKey] = (), **kwargs):
        ids = super()._insert_events(c, stored_events, **kwargs)
        if data_keys:
            c.executemany(_INSERT, _rows(data_keys))
        return ids


class PostgresKeyedRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, inserting the data keys in its transaction."""

    stores_data_keys = True

    def _insert_events(self, curs, stored_events, *, data_keys: Sequence[DataKey] = (), **kwargs):
        super()._insert_events(curs, stored_events, **kwargs)
        if data_keys:
            curs.executemany(_INSERT.replace("?", "%s"), _rows(data_keys))


def recorder_topic(database: Database) -> str:
    cls = SQLiteKeyedRecorder if database.backend == "sqlite" else PostgresKeyedRecorder
    return f"{__name__}:{cls.__name__}"


class KeyStore:
    """SQL on the key table through the event store's own connections (the library's
    datastore: its pool on PostgreSQL, its connection on SQLite)."""

    def __init__(self, recorder: Any):
        self.datastore = recorder.datastore
        self.postgres = isinstance(recorder, PostgresApplicationRecorder)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), tuple(params))
            return list(cursor.fetchall())

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        with self.datastore.transaction(commit=True) as cursor:
            if not self.postgres:
                # Freed bytes are zeroed in the file, not left in free space.
                cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute(self._sql(statement), tuple(params))
            # The library wraps sqlite3's cursor; psycopg's has rowcount itself.
            return getattr(cursor, "sqlite_cursor", cursor).rowcount

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(DDL if self.postgres else DDL.replace("BYTEA", "BLOB"))
            for statement in INDEXES:
                cursor.execute(statement)

    # -- the master key's check value (a row of the same table)

    def check_master(self, master: MasterKey, *, create: bool = False) -> None:
        """Raise MasterKeyError unless `master` unwraps the store's check value. With
        `create`, a store that has none yet gets one (init-db, the first start)."""
        rows = self._query(f"SELECT wrapped FROM {TABLE} WHERE key_id = ?", (CHECK_KEY_ID,))
        if not rows:
            if not create:
                raise MasterKeyError(
                    "this store has no master key check value: run `discuss init-db` once"
                )
            self._execute(
                f"INSERT INTO {TABLE} (key_id, owner_id, comment_id, version, wrapped,"
                " created_at) VALUES (?, ?, NULL, 0, ?, ?) ON CONFLICT (key_id) DO NOTHING",
                (CHECK_KEY_ID, "-", master.check_value(), _now()),
            )
            return self.check_master(master)
        if not master.matches(_value(rows[0], "wrapped")):
            raise MasterKeyError(
                "DISCUSS_MASTER_KEY is not the master key this store was written with:"
                " set the store's own key (nothing was written)"
            )

    # -- reads

    def wrapped(self, key_ids: Iterable[str]) -> dict[str, bytes | None]:
        """key id -> wrapped key (None once destroyed); unknown ids are left out."""
        wanted = sorted(set(key_ids))
        found: dict[str, bytes | None] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ", ".join("?" * len(part))
            for row in self._query(
                f"SELECT key_id, wrapped FROM {TABLE} WHERE key_id IN ({marks})", part
            ):
                wrapped = _value(row, "wrapped", 1)
                found[_value(row, "key_id", 0)] = bytes(wrapped) if wrapped is not None else None
        return found

    def comments_of(self, owner_id: str) -> list[str]:
        """Every comment whose content is sealed for this author (the key table is written
        with the events, so it never lags behind them)."""
        rows = self._query(
            f"SELECT DISTINCT comment_id FROM {TABLE} WHERE owner_id = ?"
            " AND comment_id IS NOT NULL ORDER BY comment_id",
            (owner_id,),
        )
        return [_value(r, "comment_id", 0) for r in rows]

    def live_keys(self, *, owner_id: str | None = None, comment_id: str | None = None) -> int:
        where, params = self._where(owner_id, comment_id, None)
        rows = self._query(
            f"SELECT COUNT(*) AS n FROM {TABLE} WHERE {where} AND wrapped IS NOT NULL", params
        )
        return int(_value(rows[0], "n", 0))

    # -- erasure

    @staticmethod
    def _where(owner_id, comment_id, version) -> tuple[str, list]:
        clauses, params = [], []
        for column, value in (("owner_id", owner_id), ("comment_id", comment_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(str(value))
        if version is not None:
            clauses.append("version = ?")
            params.append(version)
        if not clauses:
            raise ValueError("destroying keys needs an owner, a comment or a revision")
        clauses.append(f"key_id <> '{CHECK_KEY_ID}'")
        return " AND ".join(clauses), params

    def destroy(
        self,
        *,
        owner_id: str | None = None,
        comment_id: str | None = None,
        version: int | None = None,
    ) -> int:
        """Destroy the matching data keys for good; returns how many were still live."""
        where, params = self._where(owner_id, comment_id, version)
        count = self._execute(
            f"UPDATE {TABLE} SET wrapped = NULL, destroyed_at = ? WHERE {where}"
            " AND wrapped IS NOT NULL",
            (_now(), *params),
        )
        self.scrub()
        return count

    def scrub(self) -> None:
        """Remove the destroyed keys' old bytes from the database files."""
        if self.postgres:
            with self.datastore.get_connection() as conn:
                autocommit = conn.autocommit
                conn.autocommit = True
                try:
                    conn.execute(f"VACUUM FULL {TABLE}")
                finally:
                    conn.autocommit = autocommit
        else:
            # A connection of its own: a checkpoint cannot run inside a transaction.
            # Readers can hold it back, so it is tried a few times.
            conn = sqlite3.connect(self.datastore.pool.db_name, uri=True, timeout=30)
            try:
                for _ in range(50):
                    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                    if not busy:
                        break
                    time.sleep(0.05)
            finally:
                conn.close()


def _value(row: Any, name: str, index: int = 0) -> Any:
    return row[name] if isinstance(row, dict) else row[index]


class Opener:
    """Opens sealed values: one query for the keys of a batch, then AES-GCM."""

    def __init__(self, keys: KeyStore, master: MasterKey):
        self.keys = keys
        self.master = master

    def open_many(self, values: Iterable[str | None]) -> dict[str, str | object]:
        """value -> plaintext, or UNAVAILABLE when its key is destroyed or lost. Values
        that are not sealed (stores written before sealing) are their own plaintext."""
        values = {v for v in values if v is not None}
        sealed = [v for v in values if is_sealed(v)]
        opened: dict[str, str | object] = {v: v for v in values if not is_sealed(v)}
        if not sealed:
            return opened
        wrapped = self.keys.wrapped(key_id_of(v) for v in sealed)
        raw_keys: dict[str, bytes | None] = {}
        for key_id, blob in wrapped.items():
            raw_keys[key_id] = self.master.unwrap(key_id, blob) if blob is not None else None
        for value in sealed:
            raw = raw_keys.get(key_id_of(value))
            plain = open_sealed(value, raw) if raw is not None else None
            opened[value] = plain if plain is not None else UNAVAILABLE
        return opened

    def open(self, value: str | None) -> str | object | None:
        if value is None:
            return None
        return self.open_many([value])[value]
