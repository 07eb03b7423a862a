"""Table conventions shared by every feature's models, and the infrastructure tables (API keys, idempotency
records, counters). Each feature keeps its own tables in its ``models.py``; wire schemas live in ``schemas/``.

Conventions: UUIDv7 primary keys (time-ordered, so keyset pagination by id follows creation time),
timezone-aware UTC timestamps, JSON columns for small explainability payloads.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.ids import uuid7
from app.core.timeutil import UTCDateTime, utcnow

# Deterministic constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def timestamp_column(*, nullable: bool = True, index: bool = False) -> Any:
    """A timezone-aware UTC timestamp column, empty by default."""
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


def created_column() -> Any:
    """A UTC timestamp set when the row is created."""
    return Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)


def json_column(default: Any = None) -> Any:
    """A JSON column whose default is a fresh copy of ``default`` (a list or a dict) per row."""
    factory = (lambda: list(default)) if isinstance(default, list) else (lambda: dict(default or {}))
    return Field(default_factory=factory, sa_type=sa.JSON(), nullable=False)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, unique=True)
    key_hash: str = Field(max_length=64)
    scopes: list[str] = json_column([])
    contributor_id: uuid.UUID | None = Field(default=None, foreign_key="contributors.id", ondelete="SET NULL")
    created_at: datetime = created_column()
    revoked_at: datetime | None = timestamp_column(nullable=True)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_records"
    __table_args__ = (sa.UniqueConstraint("api_key_id", "key"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    api_key_id: uuid.UUID = Field(foreign_key="api_keys.id", ondelete="CASCADE")
    key: str = Field(max_length=255)
    method: str = Field(max_length=10)
    path: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int | None = None
    response_body: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False, index=True)


class Counter(SQLModel, table=True):
    """Small named counters shared by all processes (e.g. the account directory's version)."""

    __tablename__ = "counters"

    name: str = Field(primary_key=True, max_length=50)
    value: int = 0


class RateLimitBucket(SQLModel, table=True):
    """One request-rate token bucket (app/core/ratelimit.py) when PostgreSQL holds them. Unlogged on PostgreSQL:
    a crash empties the table, which only refills every bucket."""

    __tablename__ = "rate_limit_buckets"

    key: str = Field(primary_key=True, max_length=200)
    tokens: float
    updated_at: float  # seconds since the epoch, from the limiter's clock
    allowed: bool  # whether the last request took a token (read back by RETURNING)
