"""Outcomes reported by tools without a CRM: POST /v1/opportunities/{id}/outcome."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.core.api import SessionDep, problems
from app.core.auth import WriteKey
from app.core.errors import Conflict, NotFound
from app.opportunities.outcomes import apply_outcome
from app.opportunities.repo import OpportunityRepo
from app.opportunities.service import get as get_opportunity
from schemas.opportunities import OutcomeCreate, OutcomeResult

router = APIRouter(prefix="/v1/opportunities", tags=["opportunities"])


class CRMOwnsOutcome(Conflict):
    code = "outcome_owned_by_crm"


@router.post(
    "/{opportunity_id}/outcome",
    response_model=OutcomeResult,
    responses=problems(401, 403, 404, 409, 422),
    summary="Record an opportunity's outcome (for tools without a CRM; a CRM-synced one takes it from the CRM)",
)
def post_outcome(opportunity_id: uuid.UUID, data: OutcomeCreate, session: SessionDep, key: WriteKey) -> OutcomeResult:
    found = OpportunityRepo(session).by_ref(str(opportunity_id))
    if found is None:
        raise NotFound("no such opportunity")
    # A key bound to a contributor touches only opportunities credited to that person (else 404).
    opp = get_opportunity(session, found.id, key)
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
    return OutcomeResult(
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
