"""Personal content sealed with fine-grained data keys (crypto-shredding).

Every event that carries something a person wrote or is called (a comment's text, an
edit or moderation reason, a display name) carries it sealed: AES-GCM under a fresh
32-byte data key made for that one event (one revision of one comment, or one
author's registration). The data key is stored apart from the event, wrapped by the
master key, in a key table of the same database (projections/keys.py), written in the
same transaction as the event. Destroying data keys erases the content for good while
the events, and the hash chain over them, stay exactly as they were.

Why not the library's cipher (eventsourcing.cipher.AESCipher): it encrypts whole
stored events under one application-wide key, so it can forget nothing short of
everything, and it would hide the ids and positions that the audit trail and the hash
chain must keep readable.

A sealed value is a str: SEALED_PREFIX, the key id, ":", and base64 of nonce +
ciphertext. The prefix starts with a control character that the domain's rules refuse
in every user-supplied text, so a sealed value is never mistaken for plaintext (stores
written before sealing hold plaintext, and are still read).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from uuid import uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED_PREFIX = "\x1es1:"
KEY_BYTES = 32
NONCE_BYTES = 12
# A value unwrapped at start-up to check that the master key is the store's own.
CHECK_KEY_ID = "master-key-check"
CHECK_PLAINTEXT = b"discuss master key check"


class MasterKeyError(Exception):
    """The master key is missing, malformed, or not the one this store was written with."""


@dataclass(frozen=True)
class DataKey:
    """One data key as stored: who the content belongs to, which revision, wrapped."""

    key_id: str
    owner_id: str  # the author whose content it seals
    comment_id: str | None  # None for an author's own record (the display name)
    version: int  # the aggregate version of the event it seals
    wrapped: bytes


class MasterKey:
    """Wraps and unwraps data keys (AES-256-GCM, the key id as associated data, so a
    wrapped key cannot be moved to another row)."""

    def __init__(self, key: bytes):
        if len(key) != KEY_BYTES:
            raise MasterKeyError(f"the master key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)
        self._raw = key

    def derive(self, label: bytes) -> bytes:
        """A key for another purpose (signing links: domain/links.py), derived one-way
        (HMAC-SHA256 as a PRF), so every process holding the master key has it."""
        return hmac.new(self._raw, b"discuss derive: " + label, hashlib.sha256).digest()

    @staticmethod
    def generate_text() -> str:
        return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """From DISCUSS_MASTER_KEY: 32 bytes as url-safe base64 (what generate_text gives)."""
        try:
            key = base64.urlsafe_b64decode(text.strip().encode())
        except (binascii.Error, ValueError):
            raise MasterKeyError("DISCUSS_MASTER_KEY is not base64") from None
        return cls(key)

    def wrap(self, key_id: str, raw: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, raw, key_id.encode())

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes | None:
        """The raw data key; None if it does not unwrap (wrong master key, damaged row)."""
        wrapped = bytes(wrapped)
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode())
        except (InvalidTag, ValueError):
            return None

    def check_value(self) -> bytes:
        return self.wrap(CHECK_KEY_ID, CHECK_PLAINTEXT)

    def matches(self, check_value: bytes) -> bool:
        return self.unwrap(CHECK_KEY_ID, check_value) == CHECK_PLAINTEXT


class Sealer:
    """Makes a data key per event and seals that event's texts with it."""

    def __init__(self, master: MasterKey):
        self.master = master

    def new_key(self, owner_id: object, comment_id: object | None, version: int) -> SealingKey:
        key_id = uuid4().hex
        raw = os.urandom(KEY_BYTES)
        stored = DataKey(
            key_id=key_id,
            owner_id=str(owner_id),
            comment_id=str(comment_id) if comment_id is not None else None,
            version=version,
            wrapped=self.master.wrap(key_id, raw),
        )
        return SealingKey(stored, AESGCM(raw))


class SealingKey:
    """A fresh data key, in memory only while its event is being made."""

    def __init__(self, stored: DataKey, aead: AESGCM):
        self.stored = stored
        self._aead = aead

    def seal(self, plaintext: str | None) -> str | None:
        if plaintext is None:
            return None
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), self.stored.key_id.encode())
        return f"{SEALED_PREFIX}{self.stored.key_id}:{base64.b64encode(nonce + sealed).decode()}"


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def key_id_of(value: str) -> str:
    return value[len(SEALED_PREFIX) :].split(":", 1)[0]


def open_sealed(value: str, raw_key: bytes) -> str | None:
    """The plaintext of a sealed value under its raw data key; None if it does not open."""
    key_id, _, body = value[len(SEALED_PREFIX) :].partition(":")
    try:
        data = base64.b64decode(body)
        plain = AESGCM(raw_key).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode())
    except (InvalidTag, ValueError, binascii.Error):
        return None
    return plain.decode()
