"""Wire contracts of the recognition statements and the adoption report (under /v1/reports)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from schemas.reports import CreditModel


class CreditTotals(BaseModel):
    """One credit model's totals, computed by the credit report's own code (GET /v1/reports/credit)."""

    credits: int = Field(description="opportunities first seen in the period that credit this person")
    originated: int
    pipeline_value: Decimal = Field(description="credited share of open opportunities' value")
    won_value: Decimal = Field(description="credited share of won opportunities' value")


class Participation(BaseModel):
    signals: int = Field(description="signals the person reported in the period")
    function: str
    function_median_signals: float | None = Field(
        description="median signals of the colleagues in the same function who reported in the period"
    )
    function_contributors: int = Field(description="how many colleagues of that function reported in the period")


class StatementLine(BaseModel):
    """One opportunity the person is credited on, and what became of it."""

    opportunity_id: uuid.UUID
    title: str
    account: str | None
    role: str = Field(description="originator (first to notice) or co_contributor")
    first_observed_at: datetime
    status: str = Field(description="open, won, lost or not_pursued")
    stage: str | None
    currency: str | None
    value: Decimal | None = Field(description="the opportunity's value (won amount, else the estimate)")
    credit_originator: Decimal | None
    credit_equal: Decimal | None
    credit_time_weighted: Decimal | None
    note: str | None = Field(description="the seller's outcome note")
    crm_url: str | None


class StatementSignal(BaseModel):
    id: uuid.UUID
    observed_at: datetime
    kind: str
    title: str
    account: str | None
    opportunity_id: uuid.UUID | None
    status: str


class PersonRef(BaseModel):
    id: uuid.UUID
    name: str | None
    email: str | None
    function: str
    team: str | None


class RecognitionStatement(BaseModel):
    """A contributor's record for a period: what they noticed, what became of it, the credit it earned."""

    contributor: PersonRef
    date_from: date
    date_to: date = Field(description="inclusive")
    currency: str = Field(description="credit totals count opportunities in this currency")
    generated_at: datetime
    credit: dict[CreditModel, CreditTotals]
    participation: Participation
    opportunities: list[StatementLine] = Field(description="opportunities first seen in the period, newest first")
    signals: list[StatementSignal] = Field(description="signals observed in the period, newest first")
    truncated: bool = Field(description="true when a list was cut at its limit")


class TeamMemberRow(BaseModel):
    contributor_id: uuid.UUID
    name: str | None
    function: str
    signals: int
    function_median_signals: float | None
    credits: int
    originated: int
    pipeline_originator: Decimal
    won_originator: Decimal
    pipeline_equal: Decimal
    won_equal: Decimal
    pipeline_time_weighted: Decimal
    won_time_weighted: Decimal


class TeamStatement(BaseModel):
    team: str
    date_from: date
    date_to: date
    currency: str
    generated_at: datetime
    rows: list[TeamMemberRow]


class AdoptionRow(BaseModel):
    week: str = Field(description="Monday of the week (UTC)")
    function: str
    active_contributors: int
    staff: int | None = Field(description="imported headcount (PUT /v1/reports/staff-counts)")
    share_of_staff: float | None
    repeat_contributors: int = Field(description="active this week and had reported before it")
    repeat_rate: float | None = Field(description="repeat_contributors / active_contributors")
