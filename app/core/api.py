"""Shared request plumbing: the engine and ingest configuration from app state, cursors, problem responses."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import transaction
from app.core.errors import invalid
from app.core.settings import Settings
from schemas.common import Problem


# Async although they do not await: FastAPI runs a plain ``def`` dependency in the threadpool, a hop that
# costs more than these attribute reads.
async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


EngineDep = Annotated[Engine, Depends(get_engine)]


def request_transaction(engine: EngineDep) -> Iterator[Session]:
    """The request's one unit of work: committed when the handler returns, rolled back if it raises.

    Used with ``scope="function"``, so the commit runs before the response is sent: an answer is never sent
    for work that then fails to commit (guarantee 1). See
    https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/
    """
    with transaction(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(request_transaction, scope="function")]
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


T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    """Where a list resumes (the id the previous page ended at) and how many items it shows."""

    before: uuid.UUID | None
    limit: int

    @property
    def fetch(self) -> int:
        """Rows to read: one more than shown tells whether another page follows."""
        return self.limit + 1


def page_request(
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageRequest:
    return PageRequest(decode_cursor(cursor), limit)


PageDep = Annotated[PageRequest, Depends(page_request)]


def split_page(rows: Sequence[T], paging: PageRequest, last_id: Callable[[T], uuid.UUID]) -> tuple[list[T], str | None]:
    """The rows to show (``rows`` was read with ``paging.fetch``) and the cursor of the next page, if any."""
    page = list(rows[: paging.limit])
    more = len(rows) > paging.limit and bool(page)
    return page, encode_cursor(last_id(page[-1])) if more else None


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring problem+json error bodies."""
    return {s: {"model": Problem, "content": {"application/problem+json": {}}} for s in statuses}


COMPONENT_REF = "#/components/schemas/{model}"
# Carries the JSON schemas a hand-written request body refers to, from the operation into components.schemas.
_BODY_MODELS = "x-body-models"


def read_body_as(
    model: type[BaseModel], *referenced: type[BaseModel], other: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``openapi_extra`` of a handler that reads its own body: ``model`` as application/json, plus ``other``
    media types. ``referenced`` are models the schema points at only through ``json_schema_extra`` references;
    their schemas are published too, so every $ref in the document resolves."""
    _, defs = models_json_schema([(m, "validation") for m in (model, *referenced)], ref_template=COMPONENT_REF)
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": COMPONENT_REF.format(model=model.__name__)}}}
    content.update(other or {})
    return {"requestBody": {"required": True, "content": content}, _BODY_MODELS: defs.get("$defs", {})}


PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
# Statuses the middleware may send on any operation, whatever the route declares (see app/input_limits.py).
ALWAYS_POSSIBLE = {"422": "The request is not valid (the problem names the field)"}
WITH_BODY = {"413": "Request body too large"}
# Every operation that checks an API key or a signature (so may answer 401) is rate limited (app/core/ratelimit.py).
RATE_LIMIT_HEADERS = {
    "Retry-After": "seconds until a request will be accepted again (on 429)",
    "RateLimit-Limit": "requests a full bucket allows at once (draft-ietf-httpapi-ratelimit-headers-06)",
    "RateLimit-Remaining": "requests left now",
    "RateLimit-Reset": "seconds until the bucket is full again",
}
RATE_LIMITED = {
    "description": "Too many requests: the key's (or the sender's) token bucket is empty; retry after Retry-After",
    "headers": {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS},
}


def problem_contract(openapi: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document as the service behaves: every error is problem+json (FastAPI would document its
    own 422 body as application/json), statuses the middleware and the rate limiter send are declared on each
    operation, and the schemas of hand-read bodies (``read_body_as``) are published."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            schemas.update(operation.pop(_BODY_MODELS, {}))
            responses = operation.setdefault("responses", {})
            extra = {**ALWAYS_POSSIBLE, **(WITH_BODY if "requestBody" in operation else {})}
            for status, description in extra.items():
                responses.setdefault(status, {"description": description})
            if "401" in responses:
                responses["429"] = {**RATE_LIMITED}
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = PROBLEM_CONTENT
    openapi["components"]["headers"] = {
        name: {"description": description, "schema": {"type": "integer"}}
        for name, description in RATE_LIMIT_HEADERS.items()
    }
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return openapi
