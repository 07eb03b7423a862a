"""The one HTTP entry point of every capture source: ``/capture/{name}/{route}``.

Thin: find the source by name, limit the rate, verify, let the source answer or defer its work, store deferred
work in the request's transaction and run it right after answering. No vendor is named here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from app.capture.service import ServiceContext, TaskRunner, store_deferred
from app.core.api import EngineDep, problems
from app.core.db import transaction
from app.core.errors import AppError, NotFound, invalid
from app.core.ratelimit import Quota, limit_request_async, remote_address
from integrations.base import RawRequest
from integrations.capture import CaptureInvalid, CaptureRejected, CaptureSource, Deferred, Reply

router = APIRouter(prefix="/capture", tags=["capture"])


class CaptureUnauthorized(AppError):
    status, code, title = 401, "capture_rejected", "The request signature is missing, wrong or too old"


Name = Annotated[str, Path(pattern="^[a-z][a-z0-9_]{1,39}$", description="the capture source, e.g. a chat tool")]
Route = Annotated[str, Path(pattern="^[a-z][a-z0-9_]{0,39}$", description="the source's sub-route")]
RESPONSES = {
    200: {"description": "the source's own answer (JSON, text or empty)"},
    **problems(401, 404, 413, 422, 429),
}


@router.post("/{name}", responses=RESPONSES, summary="Receive a request from a capture source (chat or ticket tool)")
async def receive_root(name: Name, request: Request, engine: EngineDep, background: BackgroundTasks) -> Response:
    return await _receive(name, "", request, engine, background)


@router.post("/{name}/{route}", responses=RESPONSES, summary="Receive a request on a capture source's sub-route")
async def receive_route(
    name: Name, route: Route, request: Request, engine: EngineDep, background: BackgroundTasks
) -> Response:
    return await _receive(name, route, request, engine, background)


def _source(request: Request, name: str, route: str) -> CaptureSource:
    sources: dict[str, CaptureSource] = request.app.state.capture_sources
    source = sources.get(name)
    if source is None or route not in source.routes:
        raise NotFound(f"no capture route /capture/{name}{'/' + route if route else ''} is configured")
    return source


async def _receive(name: str, route: str, request: Request, engine: Any, background: BackgroundTasks) -> Response:
    source = _source(request, name, route)
    # Before the signature check, so a flood of forged requests is refused cheaply; per sender, so one noisy
    # address does not use up the tool's budget for the others.
    per_minute = source.rate_limit_per_minute
    await limit_request_async(request, f"capture:{name}:{remote_address(request)}", Quota(per_minute, per_minute))
    raw = RawRequest(
        method=request.method, url=str(request.url), headers=dict(request.headers), body=await request.body()
    )
    try:
        await run_in_threadpool(source.verify, raw)
    except CaptureRejected as exc:
        raise CaptureUnauthorized(exc.reason) from None
    ctx = ServiceContext(engine, request.app.state.ingest_config, source)
    try:
        answer = await run_in_threadpool(source.receive, route, raw, ctx)
    except CaptureInvalid as exc:
        raise invalid(exc.field, exc.reason) from None
    if isinstance(answer, Deferred):
        task_id = await run_in_threadpool(_store, engine, name, answer)
        if task_id is not None:
            runner = TaskRunner(engine, request.app.state.ingest_config, request.app.state.capture_sources)
            background.add_task(runner.run_due, 1, task_id)
        answer = answer.reply
    return _response(answer)


def _store(engine: Any, name: str, work: Deferred) -> Any:
    with transaction(engine) as session:
        return store_deferred(session, name, work)


def _response(reply: Reply) -> Response:
    if reply.body is None:
        return Response(status_code=reply.status)
    if isinstance(reply.body, str):
        return PlainTextResponse(reply.body, status_code=reply.status)
    return JSONResponse(reply.body, status_code=reply.status)
