"""HTTP surface of contributors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import col, select

from app.api import EngineDep, decode_cursor, encode_cursor, problems
from app.auth import ReadKey
from app.contributors.service import resolve_contributor
from app.db import transaction
from app.models import Contributor
from schemas.common import Page
from schemas.signals import ContributorRead

router = APIRouter(prefix="/v1/contributors", tags=["contributors"])
me_router = APIRouter(prefix="/v1/me", tags=["contributors"])


@router.get("", response_model=Page[ContributorRead], responses=problems(401, 403, 422))
def list_contributors(
    engine: EngineDep,
    key: ReadKey,
    function: Annotated[str | None, Query(max_length=40)] = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ContributorRead]:
    before = decode_cursor(cursor)
    stmt = select(Contributor).where(col(Contributor.erased_at).is_(None))
    if function:
        stmt = stmt.where(Contributor.function == function)
    if team:
        stmt = stmt.where(Contributor.team == team)
    if before:
        stmt = stmt.where(col(Contributor.id) < before)
    with transaction(engine) as session:
        rows = list(session.exec(stmt.order_by(col(Contributor.id).desc()).limit(limit + 1)))
    page = rows[:limit]
    return Page(
        items=[ContributorRead.model_validate(c, from_attributes=True) for c in page],
        next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
    )


@router.get("/{ref}", response_model=ContributorRead, responses=problems(401, 403, 404))
def get_contributor(
    ref: Annotated[str, Path(max_length=254, description="id or e-mail")], engine: EngineDep, key: ReadKey
) -> ContributorRead:
    with transaction(engine) as session:
        return ContributorRead.model_validate(resolve_contributor(session, ref), from_attributes=True)
