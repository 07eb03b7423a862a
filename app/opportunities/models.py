"""Tables of the opportunities feature (SQLModel, storage only; wire schemas live in ``schemas/``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.ids import uuid7
from app.core.tables import created_column, json_column, timestamp_column
from app.core.timeutil import UTCDateTime
from schemas.limits import MAX_TITLE_CHARS


class Opportunity(SQLModel, table=True):
    __tablename__ = "opportunities"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="accounts.id", index=True)
    title: str = Field(max_length=MAX_TITLE_CHARS)
    kinds: list[str] = json_column([])
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
    stage_changed_at: datetime | None = timestamp_column(nullable=True)
    closed_at: datetime | None = timestamp_column(nullable=True)
    crm: str | None = Field(default=None, max_length=20)
    crm_id: str | None = Field(default=None, max_length=100, index=True)
    crm_url: str | None = Field(default=None, max_length=500)
    synced_at: datetime | None = timestamp_column(nullable=True)
    merged_into_id: uuid.UUID | None = Field(default=None, foreign_key="opportunities.id")
    # Bumped on every local change the CRM should see; sync jobs remember the version they sent.
    version: int = 1
    created_at: datetime = created_column()
    updated_at: datetime = created_column()


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
    detail: dict[str, Any] = json_column({})
    created_at: datetime = created_column()
