"""HTTP surface of contributors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlmodel import col, select

from app.contributors import privacy
from app.contributors.models import Contributor
from app.contributors.service import feed, readable_contributor, resolve_contributor
from app.core.api import EngineDep, decode_cursor, encode_cursor, problems
from app.core.auth import AdminKey, ReadKey
from app.core.db import transaction
from app.core.errors import NotFound
from schemas.common import Page
from schemas.contributors import FeedItem
from schemas.signals import ContributorRead

router = APIRouter(prefix="/v1/contributors", tags=["contributors"])
me_router = APIRouter(prefix="/v1/me", tags=["contributors"])

Ref = Annotated[str, Path(max_length=254, description="id or e-mail")]
Cursor = Annotated[str | None, Query(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]


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
    if key.contributor_id is not None:  # a key bound to a person sees only that person
        stmt = stmt.where(Contributor.id == key.contributor_id)
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
        return ContributorRead.model_validate(readable_contributor(session, ref, key), from_attributes=True)


@router.get(
    "/{ref}/signals",
    response_model=Page[FeedItem],
    responses=problems(401, 403, 404, 422),
    summary="A contributor's signals and what became of each: account, colleagues, CRM link, stage, outcome, note",
)
def contributor_feed(
    ref: Ref, engine: EngineDep, key: ReadKey, cursor: Cursor = None, limit: Limit = 50
) -> Page[FeedItem]:
    before = decode_cursor(cursor)
    with transaction(engine) as session:
        contributor = readable_contributor(session, ref, key)
        items = feed(session, contributor, before=before, limit=limit + 1)
    return _page(items, limit)


@router.delete(
    "/{ref}",
    status_code=204,
    responses=problems(401, 403, 404),
    summary="Erase a contributor's personal data; anonymous counts stay",
)
def erase_contributor(ref: Ref, engine: EngineDep, key: AdminKey) -> Response:
    with transaction(engine) as session:
        privacy.erase(session, resolve_contributor(session, ref))
    return Response(status_code=204)


@me_router.get(
    "/signals",
    response_model=Page[FeedItem],
    responses=problems(401, 403, 404, 422),
    summary="The calling key's contributor's feed (the key must be bound to a contributor)",
)
def my_feed(engine: EngineDep, key: ReadKey, cursor: Cursor = None, limit: Limit = 50) -> Page[FeedItem]:
    if key.contributor_id is None:
        raise NotFound("this API key is not bound to a contributor")
    before = decode_cursor(cursor)
    with transaction(engine) as session:
        contributor = readable_contributor(session, str(key.contributor_id), key)
        items = feed(session, contributor, before=before, limit=limit + 1)
    return _page(items, limit)


def _page(items: list[FeedItem], limit: int) -> Page[FeedItem]:
    page = items[:limit]
    return Page(items=page, next_cursor=encode_cursor(page[-1].signal_id) if len(items) > limit else None)
