"""Access tokens: `<author id>.<secret>`. Only a SHA-256 of the secret is stored.

The secret is 32 random bytes, so a fast hash is enough (no dictionary to guess
from); comparison is constant-time.
"""

import hashlib
import hmac
import secrets
from uuid import UUID


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_token(author_id: UUID, secret: str) -> str:
    return f"{author_id}.{secret}"


def split_token(token: str) -> tuple[UUID, str] | None:
    """The author id and the secret of a token in its one spelling (the id as
    `make_token` writes it: lower case, with dashes); None for any other. Another
    spelling of one id would be another token to every cache and limit keyed on it.
    Whitespace around it (a pasted token) is not part of it."""
    author_part, _, secret = token.strip().partition(".")
    if not secret:
        return None
    try:
        author_id = UUID(author_part)
    except ValueError:
        return None
    return (author_id, secret) if str(author_id) == author_part else None


def token_id(token: str) -> str | None:
    """The public id of a token (Author.TokenIssued): from the hash of its secret."""
    parts = split_token(token)
    return hash_secret(parts[1])[:16] if parts else None


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
