"""Tables of the reports slice: the per-credit fact table, opportunity milestones and imported staff counts.

Also declares report indexes on tables owned by other slices, so autogenerate keeps them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

import app.notifications.models  # noqa: F401  (one import in migrations/env.py registers both slices' tables)
from app.models import Opportunity, Signal
from app.timeutil import UTCDateTime, utcnow


def _ts(*, index: bool = False) -> datetime | None:
    return Field(default=None, sa_type=UTCDateTime(), nullable=True, index=index)  # type: ignore[no-any-return]


class OpportunityMilestone(SQLModel, table=True):
    """First times that later values overwrite on the opportunity: first in the CRM, first stage change."""

    __tablename__ = "opportunity_milestones"

    opportunity_id: uuid.UUID = Field(primary_key=True, foreign_key="opportunities.id", ondelete="CASCADE")
    first_synced_at: datetime | None = _ts()
    first_stage_changed_at: datetime | None = _ts()
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False, index=True)


class CreditFact(SQLModel, table=True):
    """One row per credit, denormalised for reports and rebuilt per opportunity when it changes.

    Values are integer cents; the three credit models' shares of an opportunity always sum to its value.
    """

    __tablename__ = "report_credit_facts"
    __table_args__ = (
        sa.Index("ix_report_credit_facts_observed_at", "observed_at"),
        sa.Index("ix_report_credit_facts_opp_first_seen_at", "opp_first_seen_at"),
    )

    credit_id: uuid.UUID = Field(primary_key=True)
    opportunity_id: uuid.UUID = Field(index=True)
    contributor_id: uuid.UUID = Field(index=True)
    account_id: uuid.UUID = Field(index=True)
    role: str = Field(max_length=20)
    rank: int
    n_credits: int
    signal_count: int
    opp_signal_count: int
    observed_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    opp_first_seen_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    source_system: str = Field(max_length=100)
    kind: str = Field(max_length=40)
    status: str = Field(max_length=20)
    currency: str | None = Field(default=None, max_length=3)
    value_cents: int | None = Field(default=None, sa_type=sa.BigInteger())
    originator_cents: int | None = Field(default=None, sa_type=sa.BigInteger())
    equal_cents: int | None = Field(default=None, sa_type=sa.BigInteger())
    time_weighted_cents: int | None = Field(default=None, sa_type=sa.BigInteger())
    first_synced_at: datetime | None = _ts()
    first_stage_changed_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()


class StaffCount(SQLModel, table=True):
    """Headcount per function or team, imported so participation can be shown as a share of staff."""

    __tablename__ = "staff_counts"

    dimension: str = Field(primary_key=True, max_length=20)  # function | team
    name: str = Field(primary_key=True, max_length=100)
    staff: int
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)


# Report access paths on other slices' tables: the fact refresh finds changed opportunities by updated_at,
# and participation reads (observed_at, contributor_id) pairs from the index alone.
sa.Index("ix_opportunities_updated_at", Opportunity.__table__.c.updated_at)  # type: ignore[attr-defined]
sa.Index(
    "ix_signals_observed_at_contributor_id",
    Signal.__table__.c.observed_at,  # type: ignore[attr-defined]
    Signal.__table__.c.contributor_id,  # type: ignore[attr-defined]
)
