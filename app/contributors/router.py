"""HTTP surface of contributors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.contributors import privacy
from app.contributors.repo import ContributorRepo
from app.contributors.service import feed, readable_contributor, resolve_contributor, update
from app.core.api import PageDep, PageRequest, SessionDep, problems, split_page
from app.core.auth import AdminKey, ContributorsWriteKey, ReadKey
from app.core.errors import NotFound
from schemas.common import Page
from schemas.contributors import FeedItem
from schemas.signals import ContributorRead, ContributorUpdate

router = APIRouter(prefix="/v1/contributors", tags=["contributors"])
me_router = APIRouter(prefix="/v1/me", tags=["contributors"])

Ref = Annotated[str, Path(max_length=254, description="id or e-mail")]


@router.get("", response_model=Page[ContributorRead], responses=problems(401, 403, 422))
def list_contributors(
    session: SessionDep,
    key: ReadKey,
    paging: PageDep,
    function: Annotated[str | None, Query(max_length=40)] = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[ContributorRead]:
    # A key bound to a person sees only that person.
    rows = ContributorRepo(session).page(
        function=function, team=team, only=key.contributor_id, before=paging.before, limit=paging.fetch
    )
    page, next_cursor = split_page(rows, paging, lambda c: c.id)
    return Page(items=[ContributorRead.model_validate(c, from_attributes=True) for c in page], next_cursor=next_cursor)


@router.get("/{ref}", response_model=ContributorRead, responses=problems(401, 403, 404))
def get_contributor(
    ref: Annotated[str, Path(max_length=254, description="id or e-mail")], session: SessionDep, key: ReadKey
) -> ContributorRead:
    return ContributorRead.model_validate(readable_contributor(session, ref, key), from_attributes=True)


@router.get(
    "/{ref}/signals",
    response_model=Page[FeedItem],
    responses=problems(401, 403, 404, 422),
    summary="A contributor's signals and what became of each: account, colleagues, CRM link, stage, outcome, note",
)
def contributor_feed(ref: Ref, session: SessionDep, key: ReadKey, paging: PageDep) -> Page[FeedItem]:
    contributor = readable_contributor(session, ref, key)
    items = feed(session, contributor, before=paging.before, limit=paging.fetch)
    return _page(items, paging)


@router.patch(
    "/{ref}",
    response_model=ContributorRead,
    responses=problems(401, 403, 404, 422),
    summary="Change a contributor's name, team or function (a posted signal never overwrites them)",
)
def update_contributor(
    ref: Ref, data: ContributorUpdate, request: Request, session: SessionDep, key: ContributorsWriteKey
) -> ContributorRead:
    contributor = readable_contributor(session, ref, key)  # a bound key changes only its own person
    update(session, contributor, data, request.app.state.ingest_config.functions)
    return ContributorRead.model_validate(contributor, from_attributes=True)


@router.delete(
    "/{ref}",
    status_code=204,
    responses=problems(401, 403, 404),
    summary="Erase a contributor's personal data; anonymous counts stay",
)
def erase_contributor(ref: Ref, session: SessionDep, key: AdminKey) -> Response:
    privacy.erase(session, resolve_contributor(session, ref))
    return Response(status_code=204)


@me_router.get(
    "/signals",
    response_model=Page[FeedItem],
    responses=problems(401, 403, 404, 422),
    summary="The calling key's contributor's feed (the key must be bound to a contributor)",
)
def my_feed(session: SessionDep, key: ReadKey, paging: PageDep) -> Page[FeedItem]:
    if key.contributor_id is None:
        raise NotFound("this API key is not bound to a contributor")
    contributor = readable_contributor(session, str(key.contributor_id), key)
    items = feed(session, contributor, before=paging.before, limit=paging.fetch)
    return _page(items, paging)


def _page(items: list[FeedItem], paging: PageRequest) -> Page[FeedItem]:
    page, next_cursor = split_page(items, paging, lambda item: item.signal_id)
    return Page(items=page, next_cursor=next_cursor)
