"""The data-key table, beside the events in the event store's own database.

- Written atomically with the events: the application passes the new events' data
  keys to `save(..., data_keys=[...])`, which the library hands to the recorder's
  `_insert_events` inside its transaction; the recorders below insert them there.
- Read when content is shown: `Opener` fetches the keys of the values it is asked to
  open in one query, unwraps them with the master key and decrypts.
- Destroyed by erasure: the wrapped key is overwritten with NULL and the row kept (it
  says what was erased and when). On SQLite the store runs with `secure_delete`, and
  the WAL is checkpointed and truncated after an erasure, so the old bytes are zeroed
  in the file; on PostgreSQL the table is rewritten (VACUUM FULL), so the dead row
  versions that still held the wrapped keys are gone, and the wrapped column keeps
  no statistics (ANALYZE would copy sampled keys into pg_statistic). See `scrub`.
- Nothing else in the product ever holds a raw data key beyond one read.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry

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
_INSERT_ARRAYS = (
    f"INSERT INTO {TABLE} (key_id, owner_id, comment_id, version, wrapped, created_at)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::bytea[],"
    " %s::text[])"
)
# Writes of more events than this skip psycopg's pipeline (PostgresKeyedRecorder).
PIPELINE_MAX_EVENTS = 1000
# Placeholder opened values say why there is no text.
UNAVAILABLE = object()
# How long an erasure waits for SQLite readers to let its checkpoint through.
SCRUB_WAIT_SECONDS = 30
# The longest an erasure's table rewrite waits for its lock (then it tries again).
LOCK_TIMEOUT = "5s"

log = logging.getLogger(__name__)


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
    """The library's PostgreSQL recorder, inserting the data keys in its transaction.

    A write of more than PIPELINE_MAX_EVENTS events (an import) is sent without
    psycopg's pipeline mode: the library's pipelined insert of a 10,000-comment thread
    hung for ever in Pipeline.sync() with psycopg 3.2.12 and later, the server waiting
    in ClientRead for the rest of the pipeline
    (tests/integration/test_big_import_postgres.py). Same statements, same transaction,
    a few more round trips, which a write that size does not notice."""

    stores_data_keys = True

    def insert_events(self, stored_events, **kwargs):
        if len(stored_events) <= PIPELINE_MAX_EVENTS or self.datastore.enable_db_functions:
            return super().insert_events(stored_events, **kwargs)  # retried by the library
        return self._insert_without_pipeline(stored_events, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's
    def _insert_without_pipeline(self, stored_events, **kwargs):
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._insert_events(curs, stored_events, **kwargs)
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _insert_events(self, curs, stored_events, *, data_keys: Sequence[DataKey] = (), **kwargs):
        super()._insert_events(curs, stored_events, **kwargs)
        if data_keys:
            # One statement of arrays rather than one INSERT per key (an import has
            # thousands), like the library's own insert of the events.
            columns = zip(*_rows(data_keys), strict=True)
            curs.execute(_INSERT_ARRAYS, [list(column) for column in columns])


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
            if self.postgres:
                # From the start: ANALYZE would copy sampled wrapped keys into pg_statistic.
                cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN wrapped SET STATISTICS 0")

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
        """Destroy the matching data keys for good; returns how many were still live.

        The wrapped key is overwritten with NULL (the row stays: what was erased, when),
        then `scrub` removes the old bytes from the database's files. Destroying keys
        that are destroyed already changes nothing, but still scrubs: a scrub that an
        earlier erasure could not finish (see `scrub`) is finished by erasing again."""
        where, params = self._where(owner_id, comment_id, version)
        if self.postgres:
            # Before the UPDATE, so that once no snapshot predates the UPDATE none
            # predates the dropped statistics either (see `scrub`).
            self._drop_statistics()
        count = self._execute(
            f"UPDATE {TABLE} SET wrapped = NULL, destroyed_at = ? WHERE {where}"
            " AND wrapped IS NOT NULL",
            (_now(), *params),
        )
        if not self.scrub():
            log.warning(
                "erasure: the destroyed keys' old bytes may still be in the database's"
                " files (older transactions or readers held them for %s s); erase again"
                " (or run KeyStore.scrub) to finish",
                SCRUB_WAIT_SECONDS,
            )
        return count

    def scrub(self) -> bool:
        """Remove the destroyed keys' old bytes from the database's files; True once that
        is done, False if it could not be finished within SCRUB_WAIT_SECONDS.

        SQLite: the UPDATE runs with `secure_delete` on, so the space a shrunk or moved
        record leaves in a page is zeroed, and freed pages are overwritten. The pages it
        wrote go to the write-ahead log first: until a checkpoint copies them into the
        main file, that file still holds the old pages (the wrapped keys), and the WAL's
        earlier frames hold them as inserted. A TRUNCATE checkpoint copies every frame
        back and truncates the WAL to zero bytes. It cannot finish while a reader still
        uses an older snapshot: it is retried until it can.

        PostgreSQL: an UPDATE leaves the old row version, wrapped key included, in the
        table's heap until vacuumed, and a plain VACUUM only marks that space free (the
        bytes stay until overwritten). VACUUM FULL rewrites the table into a new file
        (a new relfilenode: `pg_relation_filepath` changes; the old file is truncated to
        zero bytes at commit and unlinked at the next checkpoint) and rebuilds its
        indexes. But it copies the dead row versions that some transaction still
        running might see ("dead row versions cannot be removed yet": any transaction
        of the cluster older than the erasure, even in another database, holds them
        back): the new file would hold the keys again. So the rewrite is repeated, with
        a growing pause, until VACUUM (VERBOSE) reports none kept. Each rewrite holds an
        ACCESS EXCLUSIVE lock on the key table (reads of sealed content wait; at most
        LOCK_TIMEOUT for the lock itself).
        ANALYZE (autovacuum's too) would copy sampled wrapped keys into pg_statistic (the
        column's histogram bounds): the column's statistics are turned off, any gathered
        before are dropped (ALTER COLUMN ... TYPE bytea: no rewrite) and pg_statistic is
        rewritten the same way (PostgreSQL lets the database's owner or a superuser do
        that; for anyone else it is skipped, and scrub says False).
        Out of SQL's reach on both: the server's own WAL (PostgreSQL recycles and
        overwrites its segments after checkpoints), file-system blocks freed by
        truncation, and backups taken before the erasure.
        """
        if not self.postgres:
            return self._checkpoint_sqlite()
        self._drop_statistics()
        with self.datastore.get_connection() as conn:
            autocommit = conn.autocommit
            conn.autocommit = True
            try:
                conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
                deadline = time.monotonic() + SCRUB_WAIT_SECONDS
                if not _rewrite(conn, TABLE, deadline):
                    return False
                if self._statistics_dropped:
                    if not _rewrite(conn, "pg_statistic", deadline):
                        return False
                    self._statistics_dropped = False
                return True
            finally:
                conn.execute("RESET lock_timeout")
                conn.autocommit = autocommit

    _statistics_dropped = False  # pg_statistic's file may still hold sampled keys

    def _drop_statistics(self) -> None:
        """PostgreSQL: turn the wrapped column's statistics off, drop any gathered."""
        with self.datastore.get_connection() as conn:
            autocommit = conn.autocommit
            conn.autocommit = True
            try:
                target = conn.execute(
                    "SELECT attstattarget FROM pg_attribute"
                    " WHERE attrelid = to_regclass(%s) AND attname = 'wrapped'",
                    (TABLE,),
                ).fetchone()
                if target is not None and _value(target, "attstattarget", 0) != 0:
                    conn.execute(f"ALTER TABLE {TABLE} ALTER COLUMN wrapped SET STATISTICS 0")
                gathered = conn.execute(
                    "SELECT 1 FROM pg_stats s JOIN pg_class c ON c.oid = to_regclass(%s)"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE s.schemaname = n.nspname AND s.tablename = c.relname"
                    " AND s.attname = 'wrapped'",
                    (TABLE,),
                ).fetchone()
                if gathered is not None:
                    # Drops the column's pg_statistic row (the same type: no rewrite).
                    conn.execute(f"ALTER TABLE {TABLE} ALTER COLUMN wrapped TYPE BYTEA")
                    self._statistics_dropped = True
            except Exception as error:  # not the table's owner: say so, go on
                log.warning("erasure: cannot turn off the key table's statistics: %s", error)
            finally:
                conn.autocommit = autocommit

    def _checkpoint_sqlite(self) -> bool:
        # A connection of its own: a checkpoint cannot run inside a transaction. Each
        # attempt waits at most a second for the lock; readers can hold it back.
        conn = sqlite3.connect(self.datastore.pool.db_name, uri=True, timeout=1)
        deadline = time.monotonic() + SCRUB_WAIT_SECONDS
        try:
            while True:
                busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                if not busy:
                    return True
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
        finally:
            conn.close()


def _rewrite(conn: Any, relation: str, deadline: float) -> bool:
    """VACUUM (FULL, VERBOSE) `relation` until it keeps no dead row version (or the
    deadline passes: False). The count is the first number of the report's detail
    ("N dead row versions cannot be removed yet"); no report (VACUUM skipped the
    relation: not its owner) is False. Between rewrites, it waits for the transactions
    it can see that are older than the last rewrite (rewriting sooner is no use)."""
    pause = 0.05
    details: list[str] = []

    def collect(notice: Any) -> None:  # a notice's fields live only in the call
        if notice.message_detail:
            details.append(notice.message_detail)

    while True:
        details.clear()
        conn.add_notice_handler(collect)
        try:
            conn.execute(f"VACUUM (FULL, VERBOSE) {relation}")
        except psycopg.errors.LockNotAvailable:
            kept: int | None = -1  # try again
        else:
            counts = [
                int(found.group(1))
                for detail in details
                if (found := re.match(r"\s*(\d+)", detail)) is not None
            ]
            kept = sum(counts) if counts else None
        finally:
            conn.remove_notice_handler(collect)
        if kept == 0:
            return True
        if kept is None or time.monotonic() >= deadline:
            return False
        _wait_for_older_transactions(conn, deadline)
        time.sleep(pause)  # older transactions this role cannot see: try again later
        pause = min(pause * 2, 1.0)


def _wait_for_older_transactions(conn: Any, deadline: float) -> None:
    """Until no transaction of the cluster that started before now is still running (as
    far as pg_stat_activity shows this role: other roles' sessions hide their xmin), or
    the deadline."""
    now = conn.execute(
        "SELECT (txid_snapshot_xmax(txid_current_snapshot()) % 4294967296)::text AS xid"
    ).fetchone()
    pause = 0.05
    while time.monotonic() < deadline:
        older = conn.execute(
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND backend_type <> 'autovacuum worker'"
            " AND (age(backend_xmin) > age(%s::xid) OR age(backend_xid) > age(%s::xid))",
            (_value(now, "xid", 0), _value(now, "xid", 0)),
        ).fetchone()
        if not _value(older, "n", 0):
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


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
