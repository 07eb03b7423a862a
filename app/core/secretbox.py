"""Secrets at rest: values the service must read back (webhook signing secrets, PKCE verifiers) are stored
encrypted with Fernet (AES-128-CBC + HMAC-SHA256, https://cryptography.io/en/latest/fernet/).

Keys come from ``SIGNAL_PIPELINE_SECRET_KEYS``: comma-separated Fernet keys, the first encrypts and every one
decrypts (``MultiFernet``), so a key is rotated by putting the new one first, running
``signal-pipeline secrets rotate`` (re-encrypts every stored value with it), then dropping the old one. Without
the variable, the embedded set-up generates one key into ``var/secret-key`` (mode 0600) and says so in the log.

Columns declared ``EncryptedString`` encrypt on write and decrypt on read through the process's ``SecretBox``
(``install``). A wrong key must not surface as a 500 on some later request: ``verify_stored`` decrypts what is
stored when a process starts and stops it with a message naming the variable. API keys and web tokens are not
here: the service never needs them back, so only their SHA-256 hashes are stored (app/core/auth.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from app.core.settings import Settings

log = logging.getLogger("signal_pipeline.secrets")

KEYS_VARIABLE = "SIGNAL_PIPELINE_SECRET_KEYS"
# Every Fernet token starts with version byte 0x80, which base64url spells "gAAAAA" for any current timestamp.
FERNET_PREFIX = "gAAAAA"


class SecretKeyError(RuntimeError):
    """The stored secrets and the configured keys do not fit together (the message says what to do)."""


def fingerprint(key: bytes) -> str:
    """A short, safe-to-log name for a key."""
    return hashlib.sha256(key).hexdigest()[:8]


def is_encrypted(value: str) -> bool:
    return value.startswith(FERNET_PREFIX)


class SecretBox:
    """Encrypts with the first key, decrypts with any."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self.keys = keys
        self._all = MultiFernet([Fernet(k) for k in keys])
        self._primary = Fernet(keys[0])

    @property
    def fingerprints(self) -> list[str]:
        return [fingerprint(k) for k in self.keys]

    def encrypt(self, plaintext: str) -> str:
        return self._primary.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._all.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(self._mismatch()) from None

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is already encrypted with the first key."""
        try:
            self._primary.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, stored: str) -> str:
        """``stored`` (a token under any key, or legacy plaintext) encrypted with the first key."""
        if not is_encrypted(stored):
            return self.encrypt(stored)
        try:
            return self._all.rotate(stored.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(self._mismatch()) from None

    def _mismatch(self) -> str:
        return (
            f"stored secrets cannot be decrypted with {KEYS_VARIABLE} (keys {', '.join(self.fingerprints)}): "
            "the key that encrypted them is missing. Put the previous key back after the new one "
            f'({KEYS_VARIABLE}="<new>,<old>"), start, run `signal-pipeline secrets rotate`, then drop the old key.'
        )


def parse_keys(raw: str) -> list[bytes]:
    """Comma-separated Fernet keys; ValueError naming what is wrong (for the settings' message)."""
    keys = [part.strip().encode() for part in raw.split(",") if part.strip()]
    if not keys:
        raise ValueError("needs at least one key (generate one with `signal-pipeline secrets new-key`)")
    for index, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ValueError(
                f"key {index} is not a Fernet key (32 url-safe base64-encoded bytes; "
                "`signal-pipeline secrets new-key` prints one)"
            ) from None
    return keys


def key_file_keys(path: Path) -> list[bytes]:
    """The embedded set-up's key: read from ``path``, or generated into it (0600) the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-key-")  # created 0600
        try:
            os.write(fd, Fernet.generate_key() + b"\n")
            os.close(fd)
            os.link(tmp, path)  # atomic: two processes starting at once keep one key
            log.warning(
                "secrets.key_file_created",
                extra={"path": str(path), "hint": f"set {KEYS_VARIABLE} wherever more than one machine runs"},
            )
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    else:
        log.info("secrets.key_file_used", extra={"path": str(path)})
    return parse_keys(path.read_text())


def box_from_settings(settings: Settings) -> SecretBox:
    if settings.secret_keys is not None:
        return SecretBox(parse_keys(settings.secret_keys.get_secret_value()))
    return SecretBox(key_file_keys(settings.key_file))


_installed: SecretBox | None = None
_lock = threading.Lock()


def install(box: SecretBox) -> None:
    """Make ``box`` the one ``EncryptedString`` columns use in this process."""
    global _installed
    with _lock:
        _installed = box


def current() -> SecretBox:
    """The installed box; a process that installed none (a script, a migration) builds it from its settings."""
    global _installed
    with _lock:
        if _installed is None:
            from app.core.settings import get_settings

            _installed = box_from_settings(get_settings())
        return _installed


class EncryptedString(TypeDecorator[str]):
    """A text column holding a Fernet token; Python sees the plaintext."""

    impl = sa.String(500)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current().decrypt(value)


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    key: str
    column: str

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


# Every column declared EncryptedString (tests/api/test_secrets.py checks this list against the models).
ENCRYPTED_COLUMNS = (
    EncryptedColumn("subscriptions", "id", "secret"),
    EncryptedColumn("web_sign_in_tokens", "id", "code_verifier"),
)


def _stored(conn: sa.Connection, col: EncryptedColumn, after: Any = None, limit: int = 500) -> list[Any]:
    """A page of (key, raw stored value) in key order, read as plain text (no decryption)."""
    table = sa.table(col.table, sa.column(col.key), sa.column(col.column, sa.String()))
    stmt = sa.select(table.c[col.key], table.c[col.column]).where(table.c[col.column].is_not(None))
    if after is not None:
        stmt = stmt.where(table.c[col.key] > after)
    return list(conn.execute(stmt.order_by(table.c[col.key]).limit(limit)))


def verify_stored(engine: Engine, box: SecretBox) -> int:
    """Decrypt every stored secret with ``box``; SecretKeyError if one cannot be. Returns how many were read."""
    checked = 0
    with engine.connect() as conn:
        for col in ENCRYPTED_COLUMNS:
            after = None
            while rows := _stored(conn, col, after):
                for _, value in rows:
                    if is_encrypted(value):  # plaintext waits for the migration that encrypts it
                        box.decrypt(value)
                        checked += 1
                after = rows[-1][0]
    return checked


@dataclass
class RotationCount:
    rotated: int = 0
    current: int = 0


def rotate_stored(
    engine: Engine, box: SecretBox, progress: Callable[[str, RotationCount], None] | None = None
) -> dict[str, RotationCount]:
    """Re-encrypt every stored secret not yet under the first key (plaintext too), a page per transaction.

    Idempotent: a second run finds every value current and writes nothing.
    """
    counts: dict[str, RotationCount] = {}
    for col in ENCRYPTED_COLUMNS:
        count = counts.setdefault(col.name, RotationCount())
        table = sa.table(col.table, sa.column(col.key), sa.column(col.column, sa.String()))
        after = None
        while True:
            with engine.begin() as conn:
                rows = _stored(conn, col, after)
                for key, value in rows:
                    if is_encrypted(value) and box.is_current(value):
                        count.current += 1
                        continue
                    new = box.rotate(value)
                    conn.execute(sa.update(table).where(table.c[col.key] == key).values({col.column: new}))
                    count.rotated += 1
            if not rows:
                break
            after = rows[-1][0]
            if progress:
                progress(col.name, count)
    return counts


def open_box(settings: Settings, engine: Engine) -> SecretBox:
    """At a process's start: the keys from settings, checked against what is stored, installed for the columns.

    Raises SecretKeyError; commands use ``open_box_or_exit``.
    """
    box = box_from_settings(settings)
    checked = verify_stored(engine, box)
    install(box)
    log.info("secrets.keys_ready", extra={"keys": box.fingerprints, "stored_secrets_checked": checked})
    return box


def open_box_or_exit(settings: Settings, engine: Engine) -> SecretBox:
    """``open_box`` for commands: a key problem ends the process with its message, not a traceback."""
    try:
        return open_box(settings, engine)
    except SecretKeyError as exc:
        raise SystemExit(f"cannot start: {exc}") from None
