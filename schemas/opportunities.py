"""Wire contracts of opportunities, human corrections and the attribution review queue."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from schemas.common import DateIn, DateTimeIn, Str100, Str2000, Strict
from schemas.currency import ISO_4217
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
    contributors: list[CreditRead] = Field(description="everyone credited; others' e-mail only for an unbound key")
    signals: list[SignalRead] = Field(description="for a key bound to a contributor, only that person's")
    other_signals: int = Field(
        default=0, description="signals of other contributors not listed (a key bound to a contributor sees a count)"
    )


class MergeRequest(Strict):
    opportunity_id: uuid.UUID = Field(description="the opportunity to absorb into this one")


class AssignAccount(Strict):
    account: Str100 = Field(description="account id or CRM id")


class ReviewItem(BaseModel):
    signal: SignalRead
    suggestions: list[CandidateRead] = Field(description="up to 3 likely accounts, best first")


OutcomeStatus = Literal["open", "won", "lost", "not_pursued"]


class OutcomeCreate(Strict):
    status: OutcomeStatus
    stage: Str100 | None = None
    amount: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=2)
    currency: str | None = Field(default=None, min_length=3, max_length=3, description="ISO 4217, with amount")
    close_date: DateIn | None = None
    note: Str2000 | None = Field(default=None, description="the seller's note, shown to contributors")
    changed_at: DateTimeIn | None = Field(default=None, description="when it happened (RFC 3339); default now")

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.upper() not in ISO_4217:
            raise ValueError("must be an ISO 4217 currency code such as SEK, EUR or USD")
        return value.upper()

    @model_validator(mode="after")
    def _currency_with_amount(self) -> OutcomeCreate:
        if self.amount is not None and self.currency is None:
            raise ValueError("currency is required with amount")
        return self


class OutcomeResult(OutcomeRead):
    opportunity_id: uuid.UUID
    changed: bool = Field(description="false when the opportunity already had this outcome")
