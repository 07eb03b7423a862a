"""HTTP surface of duplicate review. Thin: parse, authorise, run the service in the request's transaction."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from app.core.api import PageDep, SessionDep, problems, split_page
from app.core.auth import ReadKey, WriteKey
from app.duplicates import service
from app.signals import service as signals
from schemas.common import Page
from schemas.duplicates import AcceptDuplicate, DuplicateReviewItem, RejectDuplicate
from schemas.signals import SignalRead

router = APIRouter(prefix="/v1/review/duplicates", tags=["signals"])


@router.get(
    "",
    response_model=Page[DuplicateReviewItem],
    responses=problems(401, 403, 422),
    summary="Signals that may duplicate an open opportunity, with their candidates' texts side by side",
)
def duplicate_queue(session: SessionDep, key: ReadKey, paging: PageDep) -> Page[DuplicateReviewItem]:
    items = service.queue(session, key, paging.before, paging.fetch)
    page, next_cursor = split_page(items, paging, lambda item: item.signal.id)
    return Page(items=page, next_cursor=next_cursor)


@router.post(
    "/{signal_id}/accept",
    response_model=SignalRead,
    responses=problems(401, 403, 404, 409, 422),
    summary="The signal duplicates the candidate: its opportunity is merged into it, both contributors credited",
)
def accept_duplicate(
    signal_id: uuid.UUID, data: AcceptDuplicate, request: Request, session: SessionDep, key: WriteKey
) -> SignalRead:
    signal = signals.get(session, signal_id, key)
    service.accept(session, signal, data.opportunity_id, key.name, request.app.state.ingest_config.crm)
    return signals.seen_by(signals.to_read(session, signal), key)


@router.post(
    "/{signal_id}/reject",
    response_model=SignalRead,
    responses=problems(401, 403, 404, 409, 422),
    summary="The signal is a different need from the candidate (or from every open candidate)",
)
def reject_duplicate(signal_id: uuid.UUID, data: RejectDuplicate, session: SessionDep, key: WriteKey) -> SignalRead:
    signal = signals.get(session, signal_id, key)
    service.reject(session, signal, data.opportunity_id, key.name)
    return signals.seen_by(signals.to_read(session, signal), key)
