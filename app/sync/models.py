"""Tables of the sync feature (SQLModel, storage only; wire schemas live in ``schemas/``)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.ids import uuid7
from app.core.tables import created_column, timestamp_column


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
    next_attempt_at: datetime = created_column()
    dirty_since: datetime | None = timestamp_column(nullable=True)
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = timestamp_column(nullable=True)
    last_error_code: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, max_length=1000)
    updated_at: datetime = created_column()


class CRMUser(SQLModel, table=True):
    """CRM users (owners, users), to map contributor e-mails onto CRM user ids."""

    __tablename__ = "crm_users"
    __table_args__ = (sa.UniqueConstraint("crm", "crm_id"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    crm: str = Field(max_length=20)
    crm_id: str = Field(max_length=100)
    email: str = Field(max_length=254, index=True)
    name: str | None = Field(default=None, max_length=200)
    active: bool = True
    updated_at: datetime = created_column()


class SyncCursor(SQLModel, table=True):
    """Where each incremental CRM pull left off (crash-safe bookmark)."""

    __tablename__ = "sync_cursors"

    crm: str = Field(primary_key=True, max_length=20)
    stream: str = Field(primary_key=True, max_length=40)  # accounts | users | outcomes
    position: datetime | None = timestamp_column()
    updated_at: datetime = created_column()


class RateBudget(SQLModel, table=True):
    """A token bucket shared by every worker process through the database (one row per CRM)."""

    __tablename__ = "rate_budgets"

    name: str = Field(primary_key=True, max_length=40)
    tokens: float = 0.0
    capacity: float = 0.0
    refill_per_second: float = 0.0
    blocked_until: datetime | None = timestamp_column()
    updated_at: datetime = created_column()
