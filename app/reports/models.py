"""Tables of the reports slice: the per-credit fact table, opportunity milestones and imported staff counts, and
(PostgreSQL only) the summaries the reports read: a narrow signal mirror, monthly rollups and originator durations.

Also declares report indexes on tables owned by other slices, so autogenerate keeps them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

import app.core.tables  # noqa: F401  (the naming convention applies before any table is declared)
from app.core.timeutil import UTCDateTime, utcnow
from app.signals.models import Signal


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
        # Covering, so that the partial months at a range's ends are read from the index alone.
        sa.Index(
            "ix_report_credit_facts_observed_at",
            "observed_at",
            postgresql_include=[
                "contributor_id",
                "account_id",
                "source_system",
                "kind",
                "currency",
                "rank",
                "status",
                "value_cents",
            ],
        ),
        sa.Index(
            "ix_report_credit_facts_opp_first_seen_at",
            "opp_first_seen_at",
            postgresql_include=[
                "contributor_id",
                "account_id",
                "source_system",
                "kind",
                "currency",
                "rank",
                "status",
                "value_cents",
                "originator_cents",
                "equal_cents",
                "time_weighted_cents",
            ],
        ),
        # Concentration reads (account, contributor) groups in index order; ageing reads open, unstaged originators.
        sa.Index(
            "ix_report_credit_facts_account_id_contributor_id",
            "account_id",
            "contributor_id",
            postgresql_include=[
                "opp_first_seen_at",
                "currency",
                "status",
                "originator_cents",
                "equal_cents",
                "time_weighted_cents",
            ],
        ),
        sa.Index(
            "ix_report_credit_facts_waiting",
            "opp_first_seen_at",
            # opportunity_id for the routes join: with it, ageing reads the index alone.
            postgresql_include=[
                "account_id",
                "contributor_id",
                "first_synced_at",
                "opp_signal_count",
                "opportunity_id",
            ],
            postgresql_where=sa.text("rank = 1 AND status = 'open' AND first_stage_changed_at IS NULL"),
            sqlite_where=sa.text("rank = 1 AND status = 'open' AND first_stage_changed_at IS NULL"),
        ),
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


_MEASURES = (
    "n",
    "originated",
    "won",
    "lost",
    "open_c",
    "won_c",
    "orig_open",
    "orig_won",
    "eq_open",
    "eq_won",
    "tw_open",
    "tw_won",
    "orig_value",
)


def _rollup_table(name: str, keys: tuple[tuple[str, sa.types.TypeEngine[Any]], ...]) -> sa.Table:
    """A monthly rollup: one row per (axis, month or week, group keys, currency) with integer sums.

    Axes: ``s`` signals by observed month, ``sw`` signals by observed week (Monday), ``o`` credit facts by observed
    month, ``f`` credit facts by the month their opportunity was first seen; ``sd``, ``od`` and ``fd`` the same by
    day, ``sq``, ``oq`` and ``fq`` by quarter, ``sy``, ``oy`` and ``fy`` by year (``month`` then holds the day or
    the period's first day). Rows are kept by adding deltas of the detail rows that changed; a row whose count drops
    to zero is deleted.
    """
    columns: list[sa.Column[Any]] = [
        sa.Column("axis", sa.String(2), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        *(sa.Column(k, t, nullable=False) for k, t in keys),
        sa.Column("currency", sa.String(3), nullable=False),
        *(sa.Column(m, sa.BigInteger(), nullable=False) for m in _MEASURES),
    ]
    key_names = ["axis", "month", *(k for k, _t in keys), "currency"]
    return sa.Table(
        name,
        SQLModel.metadata,
        *columns,
        sa.PrimaryKeyConstraint(*key_names, name=f"pk_{name}"),
        sa.Index(f"ix_{name}_empty", "axis", "month", postgresql_where=sa.text("n = 0"), sqlite_where=sa.text("n = 0")),
    )


ROLLUP_CONTRIBUTOR = _rollup_table("report_rollup_contributor", (("contributor_id", sa.Uuid()),))
ROLLUP_ACCOUNT = _rollup_table("report_rollup_account", (("account_id", sa.Uuid()),))
ROLLUP_SOURCE_KIND = _rollup_table(
    "report_rollup_source_kind", (("source_system", sa.String(100)), ("kind", sa.String(40)))
)


class SignalFact(SQLModel, table=True):
    """The report dimensions of a signal (PostgreSQL only): what the signal rollups were last built from."""

    __tablename__ = "report_signal_facts"
    __table_args__ = (
        sa.Index(
            "ix_report_signal_facts_observed_at",
            "observed_at",
            postgresql_include=["contributor_id", "account_id", "source_system", "kind"],
        ),
    )

    signal_id: uuid.UUID = Field(primary_key=True)
    observed_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    contributor_id: uuid.UUID
    account_id: uuid.UUID | None = None
    source_system: str = Field(max_length=100)
    kind: str = Field(max_length=40)


DURATION_DIMS = ("contributor_id", "account_id", "function", "team", "source_system", "kind", "month")


class OriginatorDuration(SQLModel, table=True):
    """Seconds from an opportunity's first signal to its first sync (metric 1) or first stage change (metric 2),
    with the originator's dimensions (PostgreSQL only). One index per dimension, ordered by seconds, lets exact
    medians be read group by group without sorting."""

    __tablename__ = "report_durations"
    __table_args__ = tuple(
        sa.Index(f"ix_report_durations_{d}", "metric", d, "seconds", postgresql_include=["observed_at"])
        for d in DURATION_DIMS
    )

    opportunity_id: uuid.UUID = Field(primary_key=True)
    metric: int = Field(primary_key=True, sa_type=sa.SmallInteger())
    observed_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    month: date = Field(sa_type=sa.Date(), nullable=False)
    contributor_id: uuid.UUID
    account_id: uuid.UUID
    function: str = Field(max_length=40)
    team: str = Field(max_length=100)
    source_system: str = Field(max_length=100)
    kind: str = Field(max_length=40)
    seconds: float = Field(sa_type=sa.Float(precision=53))


class ContributorDims(SQLModel, table=True):
    """The function and team each contributor had when the durations were last written (PostgreSQL only)."""

    __tablename__ = "report_contributor_dims"

    contributor_id: uuid.UUID = Field(primary_key=True)
    function: str = Field(max_length=40)
    team: str = Field(max_length=100)


class StaffCount(SQLModel, table=True):
    """Headcount per function or team, imported so participation can be shown as a share of staff."""

    __tablename__ = "staff_counts"

    dimension: str = Field(primary_key=True, max_length=20)  # function | team
    name: str = Field(primary_key=True, max_length=100)
    staff: int
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)


# The change log (migration 0013): triggers on credits, opportunities, opportunity_milestones and signals append the
# ids whose report rows are stale, in the writer's transaction; the refresh deletes what it rebuilds. No key: appends
# never wait on one another, and an id logged twice is rebuilt once.
STALE_OPPORTUNITIES = sa.Table(
    "report_stale_opportunities", SQLModel.metadata, sa.Column("opportunity_id", sa.Uuid(), nullable=False)
)
STALE_SIGNALS = sa.Table("report_stale_signals", SQLModel.metadata, sa.Column("signal_id", sa.Uuid(), nullable=False))

# A report access path on another slice's table: participation reads (observed_at, contributor_id) pairs from the
# index alone.
sa.Index(
    "ix_signals_observed_at_contributor_id",
    Signal.__table__.c.observed_at,  # type: ignore[attr-defined]
    Signal.__table__.c.contributor_id,  # type: ignore[attr-defined]
)
