"""HTTP surface of opportunities and the human corrections (merge, detach)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.accounts.service import resolve_account
from app.contributors.service import readable_contributor
from app.core.api import PageDep, SessionDep, problems, split_page
from app.core.auth import ReadKey, WriteKey
from app.opportunities import service
from app.opportunities.detail import detail, summary
from app.opportunities.repo import OpportunityRepo
from schemas.common import DateTimeIn, Page
from schemas.opportunities import MergeRequest, OpportunityRead, OpportunitySummary

router = APIRouter(prefix="/v1/opportunities", tags=["opportunities"])


@router.get("", response_model=Page[OpportunitySummary], responses=problems(401, 403, 404, 422))
def list_opportunities(
    session: SessionDep,
    key: ReadKey,
    paging: PageDep,
    account: Annotated[str | None, Query(max_length=100, description="account id or CRM id")] = None,
    contributor: Annotated[str | None, Query(max_length=254, description="credited contributor, id or e-mail")] = None,
    status: Annotated[str | None, Query(pattern="^(open|won|lost|not_pursued)$")] = None,
    synced: Annotated[bool | None, Query(description="true: has a CRM record; false: not yet")] = None,
    seen_from: Annotated[DateTimeIn | None, Query(alias="from", description="last signal at or after")] = None,
    seen_to: Annotated[DateTimeIn | None, Query(alias="to", description="first signal before")] = None,
    include_merged: bool = False,
) -> Page[OpportunitySummary]:
    account_id = resolve_account(session, account).id if account else None
    people = [readable_contributor(session, contributor, key).id] if contributor else []
    if key.contributor_id is not None:  # a key bound to a person sees only what that person is credited on
        people.append(key.contributor_id)
    rows = OpportunityRepo(session).page(
        account_id=account_id,
        credited=people,
        status=status,
        synced=synced,
        seen_from=seen_from,
        seen_to=seen_to,
        include_merged=include_merged,
        before=paging.before,
        limit=paging.fetch,
    )
    page, next_cursor = split_page(rows, paging, lambda row: row[0].id)
    return Page(items=[summary(o, a) for o, a in page], next_cursor=next_cursor)


@router.get("/{opportunity_id}", response_model=OpportunityRead, responses=problems(401, 403, 404))
def get_opportunity(opportunity_id: uuid.UUID, session: SessionDep, key: ReadKey) -> OpportunityRead:
    return detail(session, service.get(session, opportunity_id, key), key)


@router.post(
    "/{opportunity_id}/merge",
    response_model=OpportunityRead,
    responses=problems(401, 403, 404, 409, 422),
    summary="Absorb another opportunity of the same account; credit is recomputed",
)
def merge_opportunity(
    opportunity_id: uuid.UUID, data: MergeRequest, request: Request, session: SessionDep, key: WriteKey
) -> OpportunityRead:
    crm = request.app.state.ingest_config.crm
    survivor = service.get(session, opportunity_id, key)
    absorbed = service.get(session, data.opportunity_id, key)
    service.merge(session, survivor, absorbed, key.name, crm)
    return detail(session, survivor, key)
