"""Wire contracts of opportunities, human corrections and the attribution review queue."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from schemas.common import Str100, Strict
from schemas.signals import AccountRef, CandidateRead, SignalRead


class CreditRead(BaseModel):
    contributor_id: uuid.UUID
    email: str | None
    name: str | None
    function: str
    team: str | None
    role: Literal["originator", "co_contributor"]
    first_observed_at: datetime
    signal_count: int


class OutcomeRead(BaseModel):
    status: str = Field(description="open, won, lost or not_pursued")
    stage: str | None
    amount: Decimal | None
    currency: str | None
    close_date: date | None
    note: str | None
    stage_changed_at: datetime | None
    closed_at: datetime | None


class OpportunitySummary(BaseModel):
    id: uuid.UUID
    title: str
    account: AccountRef
    status: str
    kinds: list[str]
    signal_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    estimated_amount: Decimal | None
    estimated_currency: str | None
    crm: str | None
    crm_id: str | None
    crm_url: str | None
    synced_at: datetime | None
    merged_into_id: uuid.UUID | None


class OpportunityRead(OpportunitySummary):
    outcome: OutcomeRead
    contributors: list[CreditRead]
    signals: list[SignalRead]


class MergeRequest(Strict):
    opportunity_id: uuid.UUID = Field(description="the opportunity to absorb into this one")


class AssignAccount(Strict):
    account: Str100 = Field(description="account id or CRM id")


class ReviewItem(BaseModel):
    signal: SignalRead
    suggestions: list[CandidateRead] = Field(description="up to 3 likely accounts, best first")
