"""Outcomes reported by tools without a CRM: POST /v1/opportunities/{id}/outcome."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator, model_validator

from app.api import EngineDep, problems
from app.auth import WriteKey
from app.db import transaction
from app.errors import Conflict, NotFound
from app.opportunities.outcomes import apply_outcome
from app.opportunities.repo import OpportunityRepo
from schemas.common import Str100, Str2000, Strict
from schemas.currency import ISO_4217

router = APIRouter(prefix="/v1/opportunities", tags=["opportunities"])

Status = Literal["open", "won", "lost", "not_pursued"]


class OutcomeCreate(Strict):
    status: Status
    stage: Str100 | None = None
    amount: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=2)
    currency: str | None = Field(default=None, min_length=3, max_length=3, description="ISO 4217, with amount")
    close_date: date | None = None
    note: Str2000 | None = Field(default=None, description="the seller's note, shown to contributors")
    changed_at: datetime | None = Field(default=None, description="when it happened; default now")

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


class OutcomeRead(BaseModel):
    opportunity_id: uuid.UUID
    changed: bool
    status: str
    stage: str | None
    amount: Decimal | None
    currency: str | None
    close_date: date | None
    note: str | None
    stage_changed_at: datetime | None
    closed_at: datetime | None


class CRMOwnsOutcome(Conflict):
    code = "outcome_owned_by_crm"


@router.post(
    "/{opportunity_id}/outcome",
    response_model=OutcomeRead,
    responses=problems(401, 403, 404, 409, 422),
    summary="Record an opportunity's outcome (for tools without a CRM; a CRM-synced one takes it from the CRM)",
)
def post_outcome(opportunity_id: uuid.UUID, data: OutcomeCreate, engine: EngineDep, key: WriteKey) -> OutcomeRead:
    with transaction(engine) as session:
        opp = OpportunityRepo(session).by_ref(str(opportunity_id))
        if opp is None:
            raise NotFound("no such opportunity")
        if opp.crm_id is not None:
            raise CRMOwnsOutcome(f"opportunity is in the CRM ({opp.crm}); its outcome is read back from there")
        changed = apply_outcome(
            session,
            opp,
            status=data.status,
            stage=data.stage,
            amount=data.amount,
            currency=data.currency,
            close_date=data.close_date,
            note=data.note,
            changed_at=data.changed_at,
            source=f"api:{key.name}",
        )
        return OutcomeRead(
            opportunity_id=opp.id,
            changed=changed,
            status=opp.status,
            stage=opp.stage,
            amount=opp.amount,
            currency=opp.currency,
            close_date=opp.close_date,
            note=opp.note,
            stage_changed_at=opp.stage_changed_at,
            closed_at=opp.closed_at,
        )
