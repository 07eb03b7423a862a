"""Shared request plumbing: the engine and ingest configuration from app state, cursors, problem responses."""

from __future__ import annotations

import base64
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from app.core.errors import invalid
from app.core.settings import Settings
from schemas.common import Problem


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if cursor is None:
        return None
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise invalid("query.cursor", "not a cursor returned by this API", "invalid_cursor") from None


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring problem+json error bodies."""
    return {s: {"model": Problem, "content": {"application/problem+json": {}}} for s in statuses}
