"""Wire contracts of /v1/reports."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from schemas.common import Str100, Strict

GroupBy = Literal["contributor", "function", "team", "source", "kind", "account", "month", "quarter"]
CreditModel = Literal["originator", "equal", "time_weighted"]
RowT = TypeVar("RowT", bound=BaseModel)


class ContributionRow(BaseModel):
    key: str = Field(description="the group: an id, a name, or a period such as 2025-03 or 2025-Q1")
    label: str | None = Field(description="contributor or account name; null once a contributor is erased")
    signals: int
    opportunities_originated: int
    opportunities_co_contributed: int
    open_pipeline_value: Decimal = Field(description="value of open opportunities the group originated")
    won_value: Decimal = Field(description="value of won opportunities the group originated")
    won: int
    lost: int
    win_rate: float | None = Field(description="won / (won + lost) of originated opportunities")
    median_hours_to_crm: float | None = Field(description="first signal to first sync, originated opportunities")
    median_hours_to_first_stage_change: float | None


class CreditRow(BaseModel):
    key: str
    label: str | None
    credits: int
    originated: int
    pipeline_value: Decimal = Field(description="credited share of open opportunities' value")
    won_value: Decimal = Field(description="credited share of won opportunities' value")


class ParticipationRow(BaseModel):
    period: str = Field(description="first day of the week (Monday) or month, UTC")
    group: str = Field(description="function or team ('' for no team)")
    active_contributors: int
    staff: int | None = Field(description="imported headcount, if any")
    share_contributing: float | None
    repeat_contributors: int = Field(description="active in the period and had reported before it")
    new_contributors: int
    trend: int | None = Field(description="change in active contributors from the group's previous period")


class ConcentrationRow(BaseModel):
    account_id: uuid.UUID
    account_name: str | None
    contributors: int
    pipeline_value: Decimal
    won_value: Decimal
    top_contributor_id: uuid.UUID
    top_contributor_share: float | None = Field(description="top contributor's share of pipeline plus won value")
    depends_on_one_person: bool


class AgeingRow(BaseModel):
    owner: str | None = Field(description="the account owner, who should react")
    team: str | None = Field(description="the originating contributor's team")
    opportunities: int
    signals: int
    oldest_waiting_days: float
    overdue: int = Field(
        description="of these, opportunities past their routed response time with no reaction (see /v1/routing)"
    )


class Report(BaseModel, Generic[RowT]):
    report: str
    date_from: date
    date_to: date = Field(description="inclusive")
    group_by: str | None = None
    currency: str | None = None
    credit: str | None = None
    generated_at: datetime
    rows: list[RowT]
    summary: dict[str, Any] = Field(default_factory=dict)


class StaffCounts(Strict):
    dimension: Literal["function", "team"]
    counts: dict[Str100, Annotated[int, Field(ge=0, le=10_000_000)]] = Field(
        description="name → headcount", max_length=2000
    )


class StaffCountsRead(BaseModel):
    dimension: str
    counts: dict[str, int]
