"""Email addresses by digest: which author a sign-in-by-email request is for.

One row per author with an address: the address's keyed digest (never the address
itself, which stays sealed in the events) and whether it is verified. A read model
like the others: registered in projections/registry.py, rebuilt identically.
"""

from __future__ import annotations

from typing import Any

from domain.model import Author
from projections.db import Sql
from projections.engine import Projection, Tables, handles


class EmailAddresses(Projection):
    name = "email_addresses"
    prefix = "em"
    ddl = {
        "addresses": """CREATE TABLE IF NOT EXISTS {addresses} (
            author_id TEXT PRIMARY KEY,
            digest TEXT NOT NULL,
            verified INTEGER NOT NULL DEFAULT 0,
            position BIGINT NOT NULL)""",
        # Moderators who want "awaiting review" mails (only moderators can opt in).
        "reviewers": """CREATE TABLE IF NOT EXISTS {reviewers} (
            author_id TEXT PRIMARY KEY,
            position BIGINT NOT NULL)""",
    }
    read_indexes = ["CREATE INDEX IF NOT EXISTS {addresses}_digest ON {addresses} (digest)"]

    @handles(Author.EmailAddressAdded)
    def added(self, sql: Sql, t: Tables, e: Any, pos: int) -> None:
        sql.execute(
            f"INSERT INTO {t.addresses} (author_id, digest, verified, position)"
            " VALUES (?, ?, 0, ?) ON CONFLICT (author_id) DO UPDATE SET"
            " digest = excluded.digest, verified = 0, position = excluded.position",
            (str(e.originator_id), e.digest, pos),
        )

    @handles(Author.EmailAddressVerified)
    def verified(self, sql: Sql, t: Tables, e: Any, pos: int) -> None:
        sql.execute(
            f"UPDATE {t.addresses} SET verified = 1, position = ? WHERE author_id = ?",
            (pos, str(e.originator_id)),
        )

    @handles(Author.EmailAddressRemoved, Author.Erased)
    def removed(self, sql: Sql, t: Tables, e: Any, pos: int) -> None:
        sql.execute(f"DELETE FROM {t.addresses} WHERE author_id = ?", (str(e.originator_id),))
        if isinstance(e, Author.Erased):
            sql.execute(f"DELETE FROM {t.reviewers} WHERE author_id = ?", (str(e.originator_id),))

    @handles(Author.ReviewNotificationsChanged)
    def reviews(self, sql: Sql, t: Tables, e: Any, pos: int) -> None:
        sql.execute(f"DELETE FROM {t.reviewers} WHERE author_id = ?", (str(e.originator_id),))
        if e.on:
            sql.execute(
                f"INSERT INTO {t.reviewers} (author_id, position) VALUES (?, ?)",
                (str(e.originator_id), pos),
            )


def reviewers(engine: Any) -> list[str]:
    """Moderators who asked for "awaiting review" mails and have a verified address."""
    t = engine.tables("email_addresses")
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT r.author_id AS author_id FROM {t.reviewers} r JOIN {t.addresses} a"
            " ON a.author_id = r.author_id WHERE a.verified = 1 ORDER BY r.author_id"
        )
        .all()
    )
    return [r["author_id"] for r in rows]


def authors_with_address(engine: Any, digest: str) -> list[str]:
    """Authors whose verified address has this digest (named query for sign-in)."""
    t = engine.tables("email_addresses")
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT author_id FROM {t.addresses} WHERE digest = ? AND verified = 1"
            " ORDER BY author_id",
            (digest,),
        )
        .all()
    )
    return [r["author_id"] for r in rows]
