"""Database tables (SQLModel). Wire schemas live in ``schemas/``; these are storage only.

Conventions: UUIDv7 primary keys (time-ordered, so keyset pagination by id follows creation time),
timezone-aware UTC timestamps, JSON columns for small explainability payloads.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.ids import uuid7
from app.timeutil import UTCDateTime, utcnow

# Deterministic constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)


def _json(default: Any = None) -> Any:
    factory = (lambda: list(default)) if isinstance(default, list) else (lambda: dict(default or {}))
    return Field(default_factory=factory, sa_type=sa.JSON(), nullable=False)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, unique=True)
    key_hash: str = Field(max_length=64)
    scopes: list[str] = _json([])
    contributor_id: uuid.UUID | None = Field(default=None, foreign_key="contributors.id", ondelete="SET NULL")
    created_at: datetime = _created()
    revoked_at: datetime | None = _ts(nullable=True)


class Contributor(SQLModel, table=True):
    __tablename__ = "contributors"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    # Null once erased: the row stays so that anonymous counts keep adding up.
    email: str | None = Field(default=None, max_length=254, unique=True)
    name: str | None = Field(default=None, max_length=200)
    function: str = Field(default="other", max_length=40, index=True)
    team: str | None = Field(default=None, max_length=100, index=True)
    created_at: datetime = _created()
    first_signal_at: datetime | None = _ts(nullable=True)
    last_signal_at: datetime | None = _ts(nullable=True)
    signal_count: int = 0
    erased_at: datetime | None = _ts(nullable=True)


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    __table_args__ = (sa.UniqueConstraint("crm", "crm_id"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    crm: str = Field(default="import", max_length=20)
    crm_id: str = Field(max_length=100, index=True)
    name: str = Field(max_length=300)
    legal_name: str | None = Field(default=None, max_length=300)
    aliases: list[str] = _json([])
    domains: list[str] = _json([])
    country: str | None = Field(default=None, max_length=2)
    owner: str | None = Field(default=None, max_length=254, description="owner e-mail or name")
    owner_crm_id: str | None = Field(default=None, max_length=100)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Opportunity(SQLModel, table=True):
    __tablename__ = "opportunities"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="accounts.id", index=True)
    title: str = Field(max_length=200)
    kinds: list[str] = _json([])
    signal_count: int = 0
    first_seen_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    last_seen_at: datetime = Field(sa_type=UTCDateTime(), nullable=False, index=True)
    estimated_amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    estimated_currency: str | None = Field(default=None, max_length=3)
    # Outcome as read back from the CRM or reported by a tool without one.
    status: str = Field(default="open", max_length=20, index=True)
    stage: str | None = Field(default=None, max_length=100)
    amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    currency: str | None = Field(default=None, max_length=3)
    close_date: date | None = None
    note: str | None = Field(default=None, max_length=2000)
    stage_changed_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
    crm: str | None = Field(default=None, max_length=20)
    crm_id: str | None = Field(default=None, max_length=100, index=True)
    crm_url: str | None = Field(default=None, max_length=500)
    synced_at: datetime | None = _ts(nullable=True)
    merged_into_id: uuid.UUID | None = Field(default=None, foreign_key="opportunities.id")
    # Bumped on every local change the CRM should see; sync jobs remember the version they sent.
    version: int = 1
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Signal(SQLModel, table=True):
    __tablename__ = "signals"
    __table_args__ = (
        sa.UniqueConstraint("source_system", "source_reference"),
        sa.Index("ix_signals_account_id_observed_at", "account_id", "observed_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    contributor_id: uuid.UUID = Field(foreign_key="contributors.id", index=True)
    account_id: uuid.UUID | None = Field(default=None, foreign_key="accounts.id")
    opportunity_id: uuid.UUID | None = Field(default=None, foreign_key="opportunities.id", index=True)
    status: str = Field(default="attributed", max_length=20, index=True)
    kind: str = Field(max_length=40, index=True)
    title: str = Field(max_length=200)
    body: str
    value_amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    value_currency: str | None = Field(default=None, max_length=3)
    observed_at: datetime = Field(sa_type=UTCDateTime(), nullable=False, index=True)
    received_at: datetime = _created()
    source_system: str = Field(max_length=100)
    source_reference: str | None = Field(default=None, max_length=200)
    source_url: str | None = Field(default=None, max_length=2000)
    customer_hint: dict[str, Any] = _json({})
    attribution: dict[str, Any] = _json({})
    match: dict[str, Any] = _json({})
    opportunity_ref: str | None = Field(default=None, max_length=100)
    api_key_id: uuid.UUID | None = Field(default=None, foreign_key="api_keys.id", ondelete="SET NULL")


class Credit(SQLModel, table=True):
    __tablename__ = "credits"
    __table_args__ = (sa.UniqueConstraint("opportunity_id", "contributor_id"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    opportunity_id: uuid.UUID = Field(foreign_key="opportunities.id", index=True)
    contributor_id: uuid.UUID = Field(foreign_key="contributors.id", index=True)
    role: str = Field(max_length=20)  # originator | co_contributor
    first_signal_id: uuid.UUID = Field(foreign_key="signals.id")
    first_observed_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    signal_count: int = 1


class OpportunityEvent(SQLModel, table=True):
    """Audit trail of human corrections and lifecycle changes (merge, detach, assign, outcome)."""

    __tablename__ = "opportunity_events"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    opportunity_id: uuid.UUID = Field(foreign_key="opportunities.id", index=True)
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=200)
    detail: dict[str, Any] = _json({})
    created_at: datetime = _created()


class SyncJob(SQLModel, table=True):
    """Outbox row: the opportunity's CRM state is behind its local ``version`` until ``synced_version`` catches up."""

    __tablename__ = "sync_jobs"
    __table_args__ = (
        sa.UniqueConstraint("opportunity_id", "crm"),
        sa.Index("ix_sync_jobs_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    opportunity_id: uuid.UUID = Field(foreign_key="opportunities.id")
    crm: str = Field(max_length=20)
    state: str = Field(default="pending", max_length=20)  # pending | retrying | dead | done
    wanted_version: int = 1
    synced_version: int = 0
    attempts: int = 0
    next_attempt_at: datetime = _created()
    dirty_since: datetime | None = _ts(nullable=True)
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = _ts(nullable=True)
    last_error_code: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, max_length=1000)
    updated_at: datetime = _created()


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


class CRMUser(SQLModel, table=True):
    """CRM users (HubSpot owners, Salesforce Users), to map contributor e-mails onto CRM user ids."""

    __tablename__ = "crm_users"
    __table_args__ = (sa.UniqueConstraint("crm", "crm_id"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    crm: str = Field(max_length=20)
    crm_id: str = Field(max_length=100)
    email: str = Field(max_length=254, index=True)
    name: str | None = Field(default=None, max_length=200)
    active: bool = True
    updated_at: datetime = _created()


class SyncCursor(SQLModel, table=True):
    """Where each incremental CRM pull left off (crash-safe bookmark)."""

    __tablename__ = "sync_cursors"

    crm: str = Field(primary_key=True, max_length=20)
    stream: str = Field(primary_key=True, max_length=40)  # accounts | users | outcomes
    position: datetime | None = _ts()
    updated_at: datetime = _created()


class RateBudget(SQLModel, table=True):
    """A token bucket shared by every worker process through the database (one row per CRM)."""

    __tablename__ = "rate_budgets"

    name: str = Field(primary_key=True, max_length=40)
    tokens: float = 0.0
    capacity: float = 0.0
    refill_per_second: float = 0.0
    blocked_until: datetime | None = _ts()
    updated_at: datetime = _created()
