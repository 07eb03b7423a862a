"""Tables of duplicate review: the suggestions waiting for a person, every matching decision as a label, and
the calibrations fitted from those labels (SQLModel, storage only; wire schemas live in ``schemas/``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.ids import uuid7
from app.core.tables import created_column, json_column, timestamp_column

OPEN, ACCEPTED, REJECTED, CLOSED = "open", "accepted", "rejected", "closed"


class DuplicateSuggestion(SQLModel, table=True):
    """A new signal that may duplicate an open opportunity of its account, for a person to decide."""

    __tablename__ = "duplicate_suggestions"
    __table_args__ = (
        sa.UniqueConstraint("signal_id", "opportunity_id"),
        sa.Index("ix_duplicate_suggestions_status_id", "status", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    signal_id: uuid.UUID = Field(foreign_key="signals.id", index=True)
    opportunity_id: uuid.UUID = Field(foreign_key="opportunities.id", index=True)
    account_id: uuid.UUID = Field(foreign_key="accounts.id")
    score: float
    rank: int  # 1 = the most probable candidate of the signal
    reasons: list[str] = json_column([])
    features: list[float] = json_column([])  # the model's inputs, for calibration from the decision
    status: str = Field(default=OPEN, max_length=20)  # open | accepted | rejected | closed (another was accepted)
    created_at: datetime = created_column()
    decided_at: datetime | None = timestamp_column(nullable=True)
    decided_by: str | None = Field(default=None, max_length=200)


class MatchLabel(SQLModel, table=True):
    """A person's decision about matching: accept or reject a duplicate candidate, merge two opportunities,
    detach a signal, assign an account. ``same`` says whether the signal (or opportunity) and the opportunity
    are one; ``features`` are the model's inputs when the pair was scored, so calibration can learn from it."""

    __tablename__ = "match_labels"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    kind: str = Field(max_length=20, index=True)  # accept | reject | merge | detach | attribution
    same: bool
    signal_id: uuid.UUID | None = Field(default=None, foreign_key="signals.id", index=True)
    opportunity_id: uuid.UUID | None = Field(default=None, foreign_key="opportunities.id")
    other_opportunity_id: uuid.UUID | None = Field(default=None, foreign_key="opportunities.id")
    account_id: uuid.UUID | None = Field(default=None, foreign_key="accounts.id")
    score: float | None = None
    features: list[float] = json_column([])
    detail: dict[str, Any] = json_column({})
    actor: str = Field(max_length=200)
    created_at: datetime = created_column()


class MatchCalibration(SQLModel, table=True):
    """A calibration of the duplicate model fitted on the deployment's labels; the newest one is used. ``coef``:
    the logistic regression's weights refitted on those labels (``{"features", "init", "coef"}``), or None when
    the shipped weights stand."""

    __tablename__ = "match_calibrations"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    platt_a: float
    platt_b: float
    merge_threshold: float
    suggest_floor: float
    labels: int
    figures: dict[str, Any] = json_column({})
    coef: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(), nullable=True)
    created_at: datetime = created_column()
