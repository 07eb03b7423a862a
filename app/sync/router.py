"""Sync over HTTP: the outbox's status, replaying a dead job, and the CRM webhook receiver."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from app.core.api import EngineDep, SessionDep, problems
from app.core.auth import SyncReadKey, SyncWriteKey
from app.core.db import transaction
from app.core.errors import AppError, NotFound
from app.core.ratelimit import Quota, limit_request_async, remote_address
from app.sync import pull
from app.sync.adapters import build_adapter
from app.sync.status import job_read, read_status, retry_dead
from integrations.base import CRMAdapter, CRMError, RawRequest, WebhookRejected
from schemas.common import Problem
from schemas.sync import CRMSyncStatus, SyncJobRead, SyncStatus

log = logging.getLogger("signal_pipeline.sync")

router = APIRouter(prefix="/v1/sync", tags=["sync"])
webhooks_router = APIRouter(prefix="/v1/webhooks", tags=["sync"])

_adapter_lock = threading.Lock()


class WebhookUnauthorized(AppError):
    status, code, title = 401, "webhook_rejected", "The webhook signature is missing, wrong or too old"


class CRMUnavailable(AppError):
    status, code, title = 503, "crm_unavailable", "The CRM could not be read; deliver again later"


@router.get(
    "/status",
    response_model=SyncStatus,
    responses=problems(401, 403),
    summary="Sync lag, job counts and recent errors per CRM",
)
def sync_status(engine: EngineDep, _key: SyncReadKey) -> SyncStatus:
    crms: list[CRMSyncStatus] = read_status(engine)
    return SyncStatus(crms=crms)


@router.post(
    "/dead/{job_id}/retry",
    response_model=SyncJobRead,
    summary="Replay a dead sync job: it becomes due now with a fresh attempt count",
    responses=problems(401, 403, 404, 409),
)
def retry_dead_job(job_id: uuid.UUID, session: SessionDep, _key: SyncWriteKey) -> SyncJobRead:
    job = retry_dead(session, job_id)
    return job_read(job)


def get_adapter(request: Request) -> CRMAdapter | None:
    """The app's adapter, built once from its settings (an override can be put on ``app.state.crm_adapter``)."""
    state = request.app.state
    with _adapter_lock:
        if not hasattr(state, "crm_adapter"):
            state.crm_adapter = build_adapter(state.settings)
        adapter: CRMAdapter | None = state.crm_adapter
    return adapter


@webhooks_router.post(
    "/{crm}",
    summary="CRM webhook: signature-verified outcome changes (replays are harmless)",
    responses={401: {"model": Problem}, 404: {"model": Problem}, 503: {"model": Problem}},
)
async def receive_webhook(
    request: Request,
    engine: EngineDep,
    crm: Annotated[str, Path(pattern="^[a-z]{2,20}$")],
) -> JSONResponse:
    adapter = get_adapter(request)
    if adapter is None or adapter.name != crm:
        raise NotFound(f"no {crm} integration is configured")
    per_minute = request.app.state.settings.webhook_rate_limit_per_minute
    await limit_request_async(request, f"webhook:{crm}:{remote_address(request)}", Quota(per_minute, per_minute))
    body = await request.body()
    settings = request.app.state.settings
    url = str(request.url)
    if settings.webhook_base_url:
        query = f"?{request.url.query}" if request.url.query else ""
        url = settings.webhook_base_url.rstrip("/") + request.url.path + query
    raw = RawRequest(method=request.method, url=url, headers=dict(request.headers), body=body)
    from starlette.concurrency import run_in_threadpool

    try:
        outcomes = await run_in_threadpool(adapter.verify_webhook, raw)
    except WebhookRejected as exc:
        log.warning("sync.webhook_rejected", extra={"crm": crm, "reason": exc.reason})
        raise WebhookUnauthorized(exc.reason) from None
    except CRMError as exc:
        log.warning("sync.webhook_read_failed", extra={"crm": crm, "code": exc.code, "status": exc.status})
        raise CRMUnavailable(headers={"Retry-After": "30"}) from None

    def apply() -> int:
        with transaction(engine) as session:
            return pull.apply_outcomes(session, crm, outcomes, source=f"{crm}.webhook")

    applied = await run_in_threadpool(apply)
    log.info("sync.webhook", extra={"crm": crm, "outcomes": len(outcomes), "applied": applied})
    return JSONResponse({"received": len(outcomes), "applied": applied})
