"""Capture's tables: the durable task queue (inbound work and follow-ups) and where each captured signal came from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.ids import uuid7
from app.core.timeutil import UTCDateTime, utcnow


class CaptureTask(SQLModel, table=True):
    """Work owed to a capture source, stored in the transaction that accepted it, so a crash loses nothing.

    ``kind`` "inbound": a verified vendor payload to process after answering the vendor; "follow_up": a notice
    to send back to the contributor. ``(source, dedup_key)`` is unique: a retried delivery stores nothing new.
    """

    __tablename__ = "capture_tasks"
    __table_args__ = (
        sa.UniqueConstraint("source", "dedup_key"),
        sa.Index("ix_capture_tasks_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    source: str = Field(max_length=40)
    kind: str = Field(max_length=20)  # inbound | follow_up
    dedup_key: str = Field(max_length=300)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON(), nullable=False)
    state: str = Field(default="pending", max_length=20)  # pending | done | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), nullable=True)


class CaptureOrigin(SQLModel, table=True):
    """The tool a signal was captured from and what that tool needs to reply (a user id, an issue key)."""

    __tablename__ = "capture_origins"

    signal_id: uuid.UUID = Field(primary_key=True, foreign_key="signals.id", ondelete="CASCADE")
    source: str = Field(max_length=40)
    # Event kinds the source reports back, as it declared them when the signal was captured.
    follows: list[str] = Field(default_factory=list, sa_type=sa.JSON(), nullable=False)
    reply_to: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON(), nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)
