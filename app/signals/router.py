"""HTTP surface of signal intake. Thin: parse, authorise, run the service in one transaction, answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from app.accounts.service import resolve_account
from app.contributors.service import readable_contributor
from app.core import idempotency
from app.core.api import EngineDep, PageDep, SessionDep, problems, split_page
from app.core.auth import Principal, ReadKey, WriteKey
from app.core.db import transaction
from app.core.errors import InvalidInput, field_errors
from app.mandates import service as mandates
from app.opportunities.service import detach
from app.signals import service
from app.signals.repo import SignalRepo
from schemas.common import DateTimeIn, Page
from schemas.opportunities import AssignAccount, ReviewItem
from schemas.signals import BatchItemResult, BatchResult, SignalBatch, SignalCreate, SignalRead

router = APIRouter(prefix="/v1/signals", tags=["signals"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Stripe semantics: a repeat with the same body replays the first answer",
    ),
]
REPLAYED = {"Idempotent-Replayed": "true"}
ATTEMPTS = 3


def _config(request: Request) -> service.IngestConfig:
    config: service.IngestConfig = request.app.state.ingest_config
    return config


Answer = tuple[int, BaseModel, dict[str, str]]


def _json(body: bytes, status: int, headers: dict[str, str]) -> Response:
    return Response(body, status, headers=headers, media_type="application/json")


def _idempotent(
    request: Request,
    engine: Engine,
    key: Principal,
    idempotency_key: str | None,
    path: str,
    payload: BaseModel,
    work: Callable[[Session], Answer],
) -> Response:
    """Run ``work`` in one transaction guarded by the Idempotency-Key: a repeat replays the stored answer.

    A unique-index race (two requests with one source reference) rolls back and runs again; the loser then
    finds the winner's signal and answers 200.
    """
    digest = idempotency.request_hash(payload.model_dump(mode="json")) if idempotency_key else ""
    ttl = timedelta(hours=request.app.state.settings.idempotency_ttl_hours)
    for attempt in range(ATTEMPTS):
        try:
            with transaction(engine) as session:
                record_id = None
                if idempotency_key is not None:
                    record_id, replay = idempotency.begin(
                        session, key.key_id, idempotency_key, "POST", path, digest, ttl
                    )
                    if replay is not None:
                        headers = {**REPLAYED, **where(replay.body)}
                        return _json(orjson.dumps(replay.body), replay.status_code, headers)
                status, answer, headers = work(session)
                # Serialised once, by pydantic's own (Rust) encoder; parsed back only to be stored for replays.
                body = answer.model_dump_json().encode()
                if record_id is not None:
                    idempotency.finish(session, record_id, status, orjson.loads(body))
            return _json(body, status, headers)
        except (IntegrityError, OperationalError) as exc:
            if attempt == ATTEMPTS - 1 or not service.retryable(exc):
                raise
    raise AssertionError("unreachable")


@router.post(
    "",
    status_code=201,
    response_model=SignalRead,
    responses={
        200: {"model": SignalRead, "description": "already stored (same source reference)"},
        **problems(401, 403, 413, 422),
    },
    summary="Report a signal",
)
def create_signal(
    data: SignalCreate,
    request: Request,
    engine: EngineDep,
    key: WriteKey,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    config = _config(request)

    def work(session: Session) -> Answer:
        service.check_authors(session, key, [("contributor.email", data.contributor.email)])
        result = service.ingest(session, config, data, key.key_id)
        read = service.seen_by(result.read, key)
        return (201 if result.created else 200), read, {"Location": f"/v1/signals/{result.signal.id}"}

    return _idempotent(request, engine, key, idempotency_key, "/v1/signals", data, work)


def where(body: dict[str, Any]) -> dict[str, str]:
    """The Location of a stored signal's answer (also on a replay); none for a batch."""
    return {"Location": f"/v1/signals/{body['id']}"} if "id" in body else {}


@router.post(
    "/batch",
    response_model=BatchResult,
    responses=problems(401, 403, 413, 422),
    summary="Report up to 500 signals; each item succeeds or fails on its own",
)
def create_signals_batch(
    batch: SignalBatch,
    request: Request,
    engine: EngineDep,
    key: WriteKey,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    config = _config(request)
    parsed: list[SignalCreate | BatchItemResult] = []
    for index, item in enumerate(batch.signals):
        try:
            parsed.append(SignalCreate.model_validate(item))
        except ValidationError as exc:
            parsed.append(BatchItemResult(index=index, status=422, errors=field_errors(exc.errors())))

    def work(session: Session) -> Answer:
        authors = [
            (f"signals.{i}.contributor.email", s.contributor.email)
            for i, s in enumerate(parsed)
            if isinstance(s, SignalCreate)
        ]
        service.check_authors(session, key, authors)  # one foreign author refuses the whole batch: nothing stored
        results = _batch_results(session, config, parsed, key)
        body = BatchResult(
            created=sum(r.status == 201 for r in results),
            existing=sum(r.status == 200 for r in results),
            rejected=sum(r.status == 422 for r in results),
            results=results,
        )
        return 200, body, {}

    return _idempotent(request, engine, key, idempotency_key, "/v1/signals/batch", batch, work)


def _batch_results(
    session: Session, config: service.IngestConfig, parsed: list[SignalCreate | BatchItemResult], key: Principal
) -> list[BatchItemResult]:
    """Ingest the valid items as one set; items that failed validation keep their 422."""
    valid = [(i, item) for i, item in enumerate(parsed) if isinstance(item, SignalCreate)]
    outcomes = service.ingest_many(session, config, [item for _, item in valid], key.key_id)
    results: dict[int, BatchItemResult] = {
        i: item for i, item in enumerate(parsed) if isinstance(item, BatchItemResult)
    }
    for (i, _), outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, InvalidInput):
            results[i] = BatchItemResult(index=i, status=422, errors=outcome.errors)
        else:
            results[i] = BatchItemResult(
                index=i, status=201 if outcome.created else 200, signal=service.seen_by(outcome.read, key)
            )
    return [results[i] for i in range(len(parsed))]


@router.get("/{signal_id}", response_model=SignalRead, responses=problems(401, 403, 404))
def get_signal(signal_id: uuid.UUID, session: SessionDep, key: ReadKey) -> SignalRead:
    return service.seen_by(service.to_read(session, service.get(session, signal_id, key)), key)


@router.get("", response_model=Page[SignalRead], responses=problems(401, 403, 404, 422))
def list_signals(
    session: SessionDep,
    key: ReadKey,
    paging: PageDep,
    contributor: Annotated[str | None, Query(max_length=254, description="contributor id or e-mail")] = None,
    account: Annotated[str | None, Query(max_length=100, description="account id or CRM id")] = None,
    opportunity: uuid.UUID | None = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(pattern="^(attributed|needs_review)$")] = None,
    observed_from: Annotated[DateTimeIn | None, Query(alias="from")] = None,
    observed_to: Annotated[DateTimeIn | None, Query(alias="to")] = None,
) -> Page[SignalRead]:
    contributor_id = readable_contributor(session, contributor, key).id if contributor else key.contributor_id
    account_id = resolve_account(session, account).id if account else None
    repo = SignalRepo(session)
    rows = repo.list(
        contributor_id=contributor_id,
        account_id=account_id,
        kind=kind,
        status=status,
        observed_from=observed_from,
        observed_to=observed_to,
        opportunity_id=opportunity,
        before=paging.before,
        limit=paging.fetch,
    )
    page, next_cursor = split_page(rows, paging, lambda s: s.id)
    people, accounts, opps = repo.related(page)
    policy = mandates.load(session)
    items = [
        service.seen_by(
            service.build_read(
                s,
                people[s.contributor_id],
                accounts.get(s.account_id) if s.account_id else None,
                opps.get(s.opportunity_id) if s.opportunity_id else None,
                policy,
            ),
            key,
        )
        for s in page
    ]
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/{signal_id}/account",
    response_model=SignalRead,
    responses=problems(401, 403, 404, 409, 422),
    summary="Assign the account of a signal waiting for review; it then joins or opens an opportunity",
)
def assign_account(
    signal_id: uuid.UUID, data: AssignAccount, request: Request, session: SessionDep, key: WriteKey
) -> SignalRead:
    config = _config(request)
    signal = service.get(session, signal_id, key)
    account = resolve_account(session, data.account)
    service.assign(session, config, signal, account, key.name)
    return service.seen_by(service.to_read(session, signal), key)


@router.post(
    "/{signal_id}/detach",
    response_model=SignalRead,
    responses=problems(401, 403, 404, 409),
    summary="Move a signal out of its opportunity into a new one; credit is recomputed in both",
)
def detach_signal(signal_id: uuid.UUID, request: Request, session: SessionDep, key: WriteKey) -> SignalRead:
    config = _config(request)
    signal = service.get(session, signal_id, key)
    detach(session, signal, key.name, config.crm)
    return service.seen_by(service.to_read(session, signal), key)


review_router = APIRouter(prefix="/v1/review", tags=["signals"])


@review_router.get(
    "/attribution",
    response_model=Page[ReviewItem],
    responses=problems(401, 403, 422),
    summary="Signals whose account could not be decided, with up to 3 suggestions each",
)
def attribution_queue(session: SessionDep, key: ReadKey, paging: PageDep) -> Page[ReviewItem]:
    items = service.review_queue(session, key, paging.before, paging.fetch)
    page, next_cursor = split_page(items, paging, lambda item: item.signal.id)
    return Page(items=page, next_cursor=next_cursor)
