"""HTTP surface of opportunities and the human corrections (merge, detach)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlmodel import col, select

from app.accounts.models import Account
from app.accounts.service import resolve_account
from app.contributors.service import readable_contributor
from app.core.api import EngineDep, decode_cursor, encode_cursor, problems
from app.core.auth import ReadKey, WriteKey
from app.core.db import transaction
from app.opportunities import service
from app.opportunities.detail import detail, summary
from app.opportunities.models import Credit, Opportunity
from schemas.common import Page
from schemas.opportunities import MergeRequest, OpportunityRead, OpportunitySummary

router = APIRouter(prefix="/v1/opportunities", tags=["opportunities"])


@router.get("", response_model=Page[OpportunitySummary], responses=problems(401, 403, 422))
def list_opportunities(
    engine: EngineDep,
    key: ReadKey,
    account: Annotated[str | None, Query(max_length=100, description="account id or CRM id")] = None,
    contributor: Annotated[str | None, Query(max_length=254, description="credited contributor, id or e-mail")] = None,
    status: Annotated[str | None, Query(pattern="^(open|won|lost|not_pursued)$")] = None,
    synced: Annotated[bool | None, Query(description="true: has a CRM record; false: not yet")] = None,
    seen_from: Annotated[datetime | None, Query(alias="from", description="last signal at or after")] = None,
    seen_to: Annotated[datetime | None, Query(alias="to", description="first signal before")] = None,
    include_merged: bool = False,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[OpportunitySummary]:
    before = decode_cursor(cursor)
    with transaction(engine) as session:
        stmt = select(Opportunity, Account).join(Account, col(Account.id) == col(Opportunity.account_id))
        if account:
            stmt = stmt.where(Opportunity.account_id == resolve_account(session, account).id)
        people = [readable_contributor(session, contributor, key).id] if contributor else []
        if key.contributor_id is not None:  # a key bound to a person sees only what that person is credited on
            people.append(key.contributor_id)
        for person in people:
            stmt = stmt.where(
                col(Opportunity.id).in_(select(Credit.opportunity_id).where(Credit.contributor_id == person))
            )
        if status:
            stmt = stmt.where(Opportunity.status == status)
        if synced is not None:
            stmt = stmt.where(col(Opportunity.crm_id).is_not(None) if synced else col(Opportunity.crm_id).is_(None))
        if seen_from:
            stmt = stmt.where(Opportunity.last_seen_at >= seen_from)
        if seen_to:
            stmt = stmt.where(Opportunity.first_seen_at < seen_to)
        if not include_merged:
            stmt = stmt.where(col(Opportunity.merged_into_id).is_(None))
        if before:
            stmt = stmt.where(col(Opportunity.id) < before)
        rows = list(session.exec(stmt.order_by(col(Opportunity.id).desc()).limit(limit + 1)))
    page = rows[:limit]
    return Page(
        items=[summary(o, a) for o, a in page],
        next_cursor=encode_cursor(page[-1][0].id) if len(rows) > limit else None,
    )


@router.get("/{opportunity_id}", response_model=OpportunityRead, responses=problems(401, 403, 404))
def get_opportunity(opportunity_id: uuid.UUID, engine: EngineDep, key: ReadKey) -> OpportunityRead:
    with transaction(engine) as session:
        return detail(session, service.get(session, opportunity_id, key))


@router.post(
    "/{opportunity_id}/merge",
    response_model=OpportunityRead,
    responses=problems(401, 403, 404, 409, 422),
    summary="Absorb another opportunity of the same account; credit is recomputed",
)
def merge_opportunity(
    opportunity_id: uuid.UUID, data: MergeRequest, request: Request, engine: EngineDep, key: WriteKey
) -> OpportunityRead:
    crm = request.app.state.ingest_config.crm
    with transaction(engine) as session:
        survivor = service.get(session, opportunity_id, key)
        absorbed = service.get(session, data.opportunity_id, key)
        service.merge(session, survivor, absorbed, key.name, crm)
        return detail(session, survivor)
