"""Liveness and readiness."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.core.api import EngineDep
from app.core.errors import problem_response
from app.core.migrate import current_revision, head_revision
from schemas.common import Problem

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database answers and its schema is at the latest migration",
    responses={503: {"model": Problem}},
)
def readyz(engine: EngineDep) -> JSONResponse:
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
    return JSONResponse({"status": "ready", "database": engine.dialect.name, "schema": head})
