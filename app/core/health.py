"""Liveness and readiness."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.core.api import EngineDep
from app.core.errors import problem_response
from schemas.common import Problem

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database answers, its schema is at the latest migration, and signals can be taken",
    responses={503: {"model": Problem}},
)
def readyz(request: Request, engine: EngineDep) -> JSONResponse:
    # Alembic (and Mako under it) is imported on the first readiness check, not at every process start.
    from app.core.migrate import current_revision, head_revision

    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            current = current_revision(conn)
    except sa.exc.SQLAlchemyError:
        return problem_response(
            Problem(
                title="Not ready",
                status=503,
                code="database_unreachable",
                detail="the database does not answer",
            )
        )
    head = head_revision()
    if current != head:
        return problem_response(
            Problem(
                title="Not ready",
                status=503,
                code="migrations_pending",
                detail=f"schema at {current}, code expects {head}; run `signal-pipeline migrate`",
            )
        )
    # Each feature that must be warm before it can serve (e.g. the account directory) registers a check that
    # answers what it is still waiting for, or None.
    for check in getattr(request.app.state, "readiness", ()):
        waiting = check()
        if waiting:
            return problem_response(Problem(title="Not ready", status=503, code="warming_up", detail=waiting))
    return JSONResponse({"status": "ready", "database": engine.dialect.name, "schema": head})
