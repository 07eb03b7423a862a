"""The mandate policy: one row per (function, kind) rule; '*' stands for any."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.ids import uuid7
from app.core.timeutil import UTCDateTime, utcnow


class Mandate(SQLModel, table=True):
    __tablename__ = "mandates"
    __table_args__ = (sa.UniqueConstraint("function", "kind"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    function: str = Field(max_length=40)
    kind: str = Field(max_length=40)
    level: str = Field(max_length=20)  # report | propose | quote
    limit_amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    limit_currency: str | None = Field(default=None, max_length=3)
    note: str | None = Field(default=None, max_length=500)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)
