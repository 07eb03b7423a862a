"""Tables of outbound notifications: subscriptions, the event outbox, per-subscription deliveries and their log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

import app.core.tables  # noqa: F401  (the naming convention applies before any table is declared)
from app.core.ids import uuid7
from app.core.secretbox import EncryptedString
from app.core.timeutil import UTCDateTime, utcnow


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)


class Subscription(SQLModel, table=True):
    """A callback URL that receives signed events. The secret must be read back to sign, so it is stored
    encrypted (app/core/secretbox.py), not hashed."""

    __tablename__ = "subscriptions"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    url: str = Field(max_length=2000)
    description: str | None = Field(default=None, max_length=200)
    # Empty means every kind.
    event_kinds: list[str] = Field(default_factory=list, sa_type=sa.JSON(), nullable=False)
    secret: str = Field(sa_type=EncryptedString(), nullable=False)
    active: bool = True
    created_at: datetime = _created()
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), nullable=True)


class NotificationEvent(SQLModel, table=True):
    """Outbox row, written in the same transaction as the change it reports."""

    __tablename__ = "notification_events"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    kind: str = Field(max_length=40)
    opportunity_id: uuid.UUID | None = Field(default=None, index=True)
    signal_id: uuid.UUID | None = Field(default=None, index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON(), nullable=False)
    created_at: datetime = _created()


class NotificationDelivery(SQLModel, table=True):
    """One event owed to one subscription; due at ``next_attempt_at``. A claim pushes that time out by a lease."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "subscription_id"),
        sa.Index("ix_notification_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="notification_events.id", ondelete="CASCADE")
    subscription_id: uuid.UUID = Field(foreign_key="subscriptions.id", ondelete="CASCADE", index=True)
    state: str = Field(default="pending", max_length=20)  # pending | retrying | delivered | dead
    attempts: int = 0
    next_attempt_at: datetime = _created()
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), nullable=True)
    created_at: datetime = _created()


class DeliveryAttempt(SQLModel, table=True):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "notification_attempts"
    __table_args__ = (sa.Index("ix_notification_attempts_subscription_id_id", "subscription_id", "id"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    delivery_id: uuid.UUID = Field(foreign_key="notification_deliveries.id", ondelete="CASCADE", index=True)
    subscription_id: uuid.UUID = Field(foreign_key="subscriptions.id", ondelete="CASCADE")
    event_id: uuid.UUID
    attempt: int
    started_at: datetime = _created()
    duration_ms: int = 0
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=300)
    outcome: str = Field(max_length=20)  # delivered | retrying | dead
