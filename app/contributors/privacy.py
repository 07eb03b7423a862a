"""Erasure of a contributor's personal data (right to be forgotten). Never commits.

The contributor row stays, without e-mail or name, so that signals, credits and report counts still add up
anonymously (function and team are kept: they are what the counts are grouped by). Every copy of the e-mail
address and the name elsewhere (signal text, stored idempotent responses, notification payloads, audit details,
CRM user mirror) is replaced by ``[erased]`` by one pass over each table's text and JSON columns.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from app.contributors.models import Contributor
from app.core.secretbox import EncryptedString
from app.core.tables import ApiKey
from app.core.timeutil import utcnow

REDACTED = "[erased]"
# Shorter names ("Li") would scrub unrelated words; the e-mail address is always scrubbed.
MIN_NAME_LENGTH = 5


@dataclass(frozen=True)
class ErasureResult:
    contributor_id: uuid.UUID
    keys_revoked: int
    rows_scrubbed: int


def needles(email: str | None, name: str | None) -> list[str]:
    """The strings to remove, including their JSON-escaped spellings (non-ASCII names are stored escaped)."""
    out: list[str] = []
    for value in (email, name if name and len(name) >= MIN_NAME_LENGTH else None):
        if not value:
            continue
        for spelling in (value, json.dumps(value)[1:-1]):
            if spelling not in out:
                out.append(spelling)
    return sorted(out, key=len, reverse=True)


def erase(session: Session, contributor: Contributor) -> ErasureResult:
    found = needles(contributor.email, contributor.name)
    now = utcnow()
    revoked = 0
    for key in session.exec(select(ApiKey).where(col(ApiKey.contributor_id) == contributor.id)):
        if key.revoked_at is None:
            key.revoked_at = now
            revoked += 1
        key.contributor_id = None
        key.name = "erased contributor's key"
        session.add(key)
    contributor.email = None
    contributor.name = None
    contributor.erased_at = contributor.erased_at or now
    session.add(contributor)
    session.flush()
    scrubbed = scrub(session, found) if found else 0
    return ErasureResult(contributor.id, revoked, scrubbed)


def _texty(column: sa.Column[object]) -> bool:
    kind = column.type
    if isinstance(kind, EncryptedString):  # ciphertext holds no readable personal data; a REPLACE would corrupt it
        return False
    if isinstance(kind, sa.TypeDecorator):  # SQLModel's AutoString wraps String
        kind = kind.impl_instance
    return isinstance(kind, (sa.String, sa.JSON)) and not column.primary_key


def scrub(session: Session, values: list[str]) -> int:
    """Replace each value by ``[erased]`` in every text and JSON column of every table; returns rows changed."""
    pg = session.get_bind().dialect.name == "postgresql"
    changed = 0
    params = {f"n{i}": v for i, v in enumerate(values)}
    params |= {f"p{i}": f"%{v}%" for i, v in enumerate(values)}
    params["r"] = REDACTED
    for table in SQLModel.metadata.sorted_tables:
        columns = [c for c in table.columns if _texty(c)]
        if not columns:
            continue
        sets: list[str] = []
        conditions: list[str] = []
        for c in columns:
            is_json = isinstance(c.type, sa.JSON)
            name = f'"{c.name}"'
            as_text = f"CAST({name} AS TEXT)" if is_json and pg else name
            replaced = as_text
            for i in range(len(values)):
                replaced = f"REPLACE({replaced}, :n{i}, :r)"
            sets.append(f"{name} = CAST({replaced} AS JSON)" if is_json and pg else f"{name} = {replaced}")
            conditions.extend(f"{as_text} LIKE :p{i}" for i in range(len(values)))
        stmt = sa.text(f'UPDATE "{table.name}" SET {", ".join(sets)} WHERE {" OR ".join(conditions)}')
        result = session.execute(stmt, params)
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed
