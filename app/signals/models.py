"""Tables of the signals feature (SQLModel, storage only; wire schemas live in ``schemas/``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.ids import uuid7
from app.core.tables import created_column, json_column
from app.core.timeutil import UTCDateTime
from schemas.limits import MAX_TITLE_CHARS


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
    title: str = Field(max_length=MAX_TITLE_CHARS)
    body: str
    value_amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    value_currency: str | None = Field(default=None, max_length=3)
    observed_at: datetime = Field(sa_type=UTCDateTime(), nullable=False, index=True)
    received_at: datetime = created_column()
    source_system: str = Field(max_length=100)
    source_reference: str | None = Field(default=None, max_length=200)
    source_url: str | None = Field(default=None, max_length=2000)
    customer_hint: dict[str, Any] = json_column({})
    attribution: dict[str, Any] = json_column({})
    match: dict[str, Any] = json_column({})
    opportunity_ref: str | None = Field(default=None, max_length=100)
    api_key_id: uuid.UUID | None = Field(default=None, foreign_key="api_keys.id", ondelete="SET NULL")
