"""Idempotency keys with Stripe's semantics, in the same transaction as the work they protect.

The record is inserted first (ON CONFLICT DO NOTHING). A concurrent request with the same key blocks on the
unique index until the first transaction commits, then finds the finished record and replays it: the work
runs once and nobody sees a 5xx.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session, select

from app.core.dbutil import insert_for
from app.core.errors import InvalidInput
from app.core.ids import uuid7
from app.core.tables import IdempotencyRecord
from app.core.timeutil import utcnow
from schemas.common import FieldError

MAX_KEY_LENGTH = 255
DEFAULT_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


def request_hash(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            "Idempotency-Key must be 1-255 printable characters",
            errors=[
                FieldError(
                    field="header.Idempotency-Key",
                    reason="1-255 printable characters",
                    code="invalid_idempotency_key",
                )
            ],
        )


def begin(
    session: Session, api_key_id: uuid.UUID, key: str, method: str, path: str, digest: str, ttl: timedelta = DEFAULT_TTL
) -> tuple[uuid.UUID | None, Replay | None]:
    """Claim the key. Returns (record id to finish, None) for new work, or (None, replay) for a repeat."""
    validate_key(key)
    new_id = uuid7()
    stmt = (
        insert_for(session, IdempotencyRecord)
        .values(id=new_id, api_key_id=api_key_id, key=key, method=method, path=path, request_hash=digest)
        .on_conflict_do_nothing(index_elements=["api_key_id", "key"])
        .returning(IdempotencyRecord.id)
    )
    if session.execute(stmt).scalar_one_or_none() is not None:
        return new_id, None
    existing = session.exec(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key)
        .with_for_update()
    ).one()
    if existing.created_at < utcnow() - ttl:
        # Expired: the key is new again (Stripe keeps keys for 24 hours). The row lock makes one request win.
        existing.request_hash, existing.path, existing.method = digest, path, method
        existing.created_at, existing.status_code, existing.response_body = utcnow(), None, None
        session.add(existing)
        session.flush()
        return existing.id, None
    if existing.request_hash != digest or existing.path != path or existing.method != method:
        raise InvalidInput(
            "this Idempotency-Key was used with a different request; use a new key for a new request",
            code="idempotency_key_reused",
            errors=[
                FieldError(
                    field="header.Idempotency-Key",
                    reason="reused with a different body",
                    code="idempotency_key_reused",
                )
            ],
        )
    assert existing.status_code is not None and existing.response_body is not None  # same transaction
    return None, Replay(existing.status_code, existing.response_body)


def finish(session: Session, record_id: uuid.UUID, status_code: int, body: dict[str, Any]) -> None:
    record = session.get(IdempotencyRecord, record_id)
    assert record is not None
    record.status_code = status_code
    record.response_body = body
    session.add(record)
