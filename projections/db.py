"""Connections to the database that holds the read models.

One code path for both backends: SQL is written with `?` placeholders and
translated for psycopg. On SQLite the views live in their own file beside the
event store (`<store>-views.db`), so projection pages never hold the event
writers' lock; on PostgreSQL they are tables in the same database.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from domain.settings import DEFAULT_PG_CONNECT_TIMEOUT, Database

IDLE_CHECK = 1.0  # seconds idle after which a PostgreSQL connection is checked before use
SQLITE_CACHE_KIB = 64 * 1024  # per connection, allocated only as pages are read
SQLITE_CHECKPOINT_PAGES = 10_000  # ~40 MiB of WAL between automatic checkpoints


def _sqlite_dict_row(cursor: sqlite3.Cursor, row: tuple) -> dict[str, Any]:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


class Sql:
    """A cursor that speaks `?` placeholders on both backends and returns dict rows."""

    def __init__(self, cursor: Any, postgres: bool):
        self._cursor = cursor
        self._postgres = postgres

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Sql:
        if self._postgres:
            sql = sql.replace("?", "%s")
        self._cursor.execute(sql, tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self._postgres:
            sql = sql.replace("?", "%s")
        self._cursor.executemany(sql, rows)

    def one(self) -> dict[str, Any] | None:
        return self._cursor.fetchone()

    def all(self) -> list[dict[str, Any]]:
        return self._cursor.fetchall()

    def scalar(self) -> Any:
        row = self._cursor.fetchone()
        return None if row is None else next(iter(row.values()))

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


def insert_rows(sql: Sql, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """Many INSERTs: PostgreSQL's COPY (one stream, no statement per row) when the
    cursor is psycopg's, else executemany."""
    cursor = getattr(sql, "_cursor", None)
    if getattr(sql, "_postgres", False) and hasattr(cursor, "copy") and len(rows) > 8:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    sql.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        rows,
    )


def lock_key(name: str) -> int:
    """A stable 63-bit key for a PostgreSQL advisory lock on a name."""
    return zlib.crc32(f"discuss:{name}".encode())


class ViewStore:
    def __init__(self, database: Database, *, connect_timeout: int = DEFAULT_PG_CONNECT_TIMEOUT):
        self.database = database
        self.postgres = database.backend == "postgres"
        self._local = threading.local()
        if self.postgres:
            self._conninfo = psycopg.conninfo.make_conninfo(
                host=database.host,
                port=database.port,
                user=database.user,
                password=database.password or None,
                dbname=database.dbname,
                connect_timeout=connect_timeout,  # settings.pg_connect_timeout
            )
        else:
            self.path = views_path(database)

    def connect(self) -> Any:
        if self.postgres:
            return psycopg.connect(self._conninfo, autocommit=True, row_factory=dict_row)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = _sqlite_dict_row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # A page of events dirties pages all over the views' UUID-keyed indexes. With
        # SQLite's default 2 MiB cache they are evicted and re-read within a page, and
        # the default checkpoint (every 1,000 WAL pages, with an fsync) ran after
        # nearly every page's COMMIT: 2.5x slower bulk catch-up (bench_catch_up.py).
        conn.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        conn.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
        return conn

    def connection(self) -> Any:
        """This thread's connection (made once per thread, after any fork)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or (self.postgres and conn.closed):
            conn = self._local.conn = self.connect()
        return conn

    def _usable(self) -> Any:
        """This thread's connection, replaced first if the server dropped it (a
        PostgreSQL restart): psycopg only notices on the next statement, so it is
        checked with an empty query when it has been idle for a while."""
        conn = self.connection()
        if self.postgres and time.monotonic() - getattr(self._local, "used", 0.0) > IDLE_CHECK:
            try:
                conn.execute("")
            except psycopg.OperationalError:
                conn.close()
                conn = self._local.conn = self.connect()
        self._local.used = time.monotonic()
        return conn

    def reachable(self) -> bool:
        """True if the server accepts a new connection now (bounded by the connect
        timeout): the web's store breaker probes with it."""
        if not self.postgres:
            return True
        try:
            psycopg.connect(self._conninfo, autocommit=True).close()
        except psycopg.Error:
            return False
        return True

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def reader(self) -> Sql:
        """A cursor for reads outside a transaction (autocommit)."""
        return Sql(self._usable().cursor(), self.postgres)

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[Sql]:
        """One transaction; with `lock`, writers holding the same name are serialised
        (PostgreSQL advisory lock; SQLite's single writer via BEGIN IMMEDIATE)."""
        conn = self._usable()
        if self.postgres:
            with conn.transaction():
                cur = Sql(conn.cursor(), True)
                if lock:
                    cur.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(lock),))
                yield cur
        else:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Sql(conn.cursor(), False)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def views_path(database: Database) -> str:
    path = Path(database.path)
    return str(path.with_name(path.stem + "-views" + (path.suffix or ".db")))
