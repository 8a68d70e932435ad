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
    author_part, _, secret = token.strip().partition(".")
    if not secret:
        return None
    try:
        return UUID(author_part), secret
    except ValueError:
        return None


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
