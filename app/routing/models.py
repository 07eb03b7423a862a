"""Routing rules and the route each new opportunity got (owner or queue, response time, escalation)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.ids import uuid7
from app.core.timeutil import UTCDateTime, utcnow


class RoutingRule(SQLModel, table=True):
    __tablename__ = "routing_rules"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    name: str = Field(max_length=100)
    position: int = Field(default=100, index=True)
    # Empty lists match anything.
    kinds: list[str] = Field(default_factory=list, sa_type=sa.JSON(), nullable=False)
    functions: list[str] = Field(default_factory=list, sa_type=sa.JSON(), nullable=False)
    segments: list[str] = Field(default_factory=list, sa_type=sa.JSON(), nullable=False)
    min_amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    max_amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    currency: str | None = Field(default=None, max_length=3)
    owner: str | None = Field(default=None, max_length=254)
    queue: str | None = Field(default=None, max_length=100)
    sla_hours: int
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)


class OpportunityRoute(SQLModel, table=True):
    """The rule that applied when the opportunity was opened, copied so that later rule edits do not rewrite it."""

    __tablename__ = "opportunity_routes"
    __table_args__ = (
        # The escalation sweep reads only routes still waiting, in due order.
        sa.Index(
            "ix_opportunity_routes_waiting",
            "due_at",
            postgresql_where=sa.text("escalated_at IS NULL AND reacted_at IS NULL"),
            sqlite_where=sa.text("escalated_at IS NULL AND reacted_at IS NULL"),
        ),
    )

    opportunity_id: uuid.UUID = Field(primary_key=True, foreign_key="opportunities.id", ondelete="CASCADE")
    rule_id: uuid.UUID | None = Field(default=None, foreign_key="routing_rules.id", ondelete="SET NULL")
    rule_name: str = Field(max_length=100)
    owner: str | None = Field(default=None, max_length=254)
    queue: str | None = Field(default=None, max_length=100)
    sla_hours: int
    routed_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    due_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    # Set by the escalation sweep once the route fell due: the reaction it found in time, or the escalation.
    # Either one takes the route out of the sweep's index for good.
    reacted_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), nullable=True)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), nullable=True)
