"""Operator commands of forgetting (crypto-shredding, domain/sealing.py):

erase-author    an author's account and everything they wrote, as the operator (a
                request received by other means, a court order...): every comment gets
                an Erased event, then the account; their data keys are destroyed.
erase-comment   one comment, every revision of it (a takedown), as the operator.
new-master-key  a fresh master key for DISCUSS_MASTER_KEY.

Erasing is idempotent: running a command again finishes what an interrupted run left
and records nothing new for what was erased already. Nothing here deletes or changes a
stored event: `discuss verify` still passes afterwards.
"""

from __future__ import annotations

from uuid import UUID

import click

from domain.model import ERASURE_BASES, OPERATOR_ID
from domain.sealing import MasterKey
from workers.bootstrap import command_services

BASIS_HELP = "Why, shown publicly in the erasure ledger: " + "; ".join(
    f"{basis} ({words})" for basis, words in ERASURE_BASES.items()
)


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a UUID", param_hint=what) from None


def _basis_option():
    return click.option(
        "--basis", type=click.Choice(list(ERASURE_BASES)), required=True, help=BASIS_HELP
    )


@click.command("erase-author")
@click.argument("author_id")
@_basis_option()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_author_command(author_id: str, basis: str, yes: bool) -> None:
    """Erase an author's account and every comment they wrote, for good."""
    author_uuid = _uuid(author_id, "AUTHOR_ID")
    with command_services() as services:
        app = services.app
        author = app.get_author(author_uuid)  # AuthorNotFound: one line, exit 1
        owner = str(author_uuid)
        comments = app.vault.comments_of(owner)
        keys_before = app.vault.live_keys(owner_id=owner)
        if not yes:
            name = app.display_name(author) or "(name erased)"
            click.confirm(
                f"Erase author {author_uuid} ({name}) and their {len(comments)} comments"
                " for good? This cannot be undone",
                abort=True,
            )
        already = author.erased
        changed = app.erase_author(OPERATOR_ID, author_uuid, basis)
        destroyed = keys_before - app.vault.live_keys(owner_id=owner)
    state = " (the account was erased already: its rest finished)" if already else ""
    click.echo(f"erased author {author_uuid}{state}")
    click.echo(f"comments: {len(comments)}")
    click.echo(f"keys destroyed: {destroyed}")
    click.echo(f"basis: {basis}")
    click.echo(f"position: {changed.position}")


@click.command("erase-comment")
@click.argument("comment_id")
@_basis_option()
def erase_comment_command(comment_id: str, basis: str) -> None:
    """Erase one comment (every revision of it) for good: a takedown by the operator."""
    comment_uuid = _uuid(comment_id, "COMMENT_ID")
    with command_services() as services:
        app = services.app
        comment = app.get_comment(comment_uuid)  # CommentNotFound: one line, exit 1
        already = comment.erased
        keys_before = app.vault.live_keys(comment_id=str(comment_uuid))
        changed = app.erase_comment(OPERATOR_ID, comment_uuid, basis)
        destroyed = keys_before - app.vault.live_keys(comment_id=str(comment_uuid))
    state = " (erased already: nothing new recorded)" if already else ""
    click.echo(f"erased comment {comment_uuid}{state}")
    click.echo(f"keys destroyed: {destroyed}")
    click.echo(f"basis: {basis}")
    click.echo(f"position: {changed.position}")


@click.command("new-master-key")
def new_master_key_command() -> None:
    """Print a fresh master key for DISCUSS_MASTER_KEY (32 random bytes, base64)."""
    click.echo(MasterKey.generate_text())
    click.echo(
        "Keep it safe, apart from the database's backups: without it nothing personal in"
        " the store can be read (set it for a new store: a store opens only with its own).",
        err=True,
    )


COMMANDS = (erase_author_command, erase_comment_command, new_master_key_command)
