"""Typed application errors, each carrying its HTTP status, rendered as RFC 9457 problem+json."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import RouteContext
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from schemas.common import FieldError, Problem

log = logging.getLogger("signal_pipeline.errors")
PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        if code is not None:
            self.code = code
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = headers
        self.extra = extra

    def problem(self, instance: str | None = None) -> Problem:
        return Problem(
            title=self.title,
            status=self.status,
            detail=self.detail,
            code=self.code,
            instance=instance,
            errors=self.errors,
            **self.extra,
        )


class InvalidInput(AppError):
    status, code, title = 422, "validation_error", "The request is not valid"


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Missing or invalid API key"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "The API key lacks the required scope"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Request body too large"


def field_errors(errors: Iterable[Any], *, strip: int = 0) -> list[FieldError]:
    """Pydantic errors as FieldErrors; ``strip`` drops leading location parts such as 'body'."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())][strip:]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        out.append(FieldError(field=".".join(loc) or "body", reason=msg, code=str(err.get("type", "invalid"))))
    return out


def invalid(field: str, reason: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput(f"{field}: {reason}", errors=[FieldError(field=field, reason=reason, code=code)])


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True, mode="json"),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


class MethodTable:
    """Which methods each route path serves (FastAPI nests included routers; ``_flatten`` flattens)."""

    def __init__(self, routes: Iterable[Any]) -> None:
        self.paths: list[tuple[re.Pattern[str], set[str]]] = []
        self.literal: dict[str, list[str]] = {}
        for path, regex, methods, literal in _flatten(routes, ""):
            if regex is None or not methods:
                continue
            self.paths.append((regex, methods))
            if path is not None and literal:
                self.literal[path] = sorted({*self.literal.get(path, []), *methods})

    def allowed(self, path: str) -> list[str]:
        """Every method some route serves at ``path`` (the Allow header of a 405)."""
        return sorted({m for regex, methods in self.paths if regex.match(path) for m in methods})


def _flatten(routes: Iterable[Any], prefix: str) -> Iterator[tuple[str | None, re.Pattern[str] | None, Any, bool]]:
    """(path, regex, methods, literal) of every route, read off the routers as declared.

    FastAPI builds an included router's effective routes (dependants, response fields: most of a route's start-up
    cost, again) only when a request reaches them; ``iter_route_contexts`` would build all of them on the first
    request, which this table is built for. A path and its methods need none of that.
    """
    for route in routes:
        router, context = getattr(route, "original_router", None), getattr(route, "include_context", None)
        if router is not None and context is not None:
            yield from _flatten(router.routes, prefix + context.prefix)
            continue
        if isinstance(route, RouteContext):  # already flattened by FastAPI
            route = route.original_route
        path = getattr(route, "path", None)
        regex, convertors = getattr(route, "path_regex", None), getattr(route, "param_convertors", None)
        if prefix and path is not None:
            path = prefix + path
            regex, _, convertors = compile_path(path)
        yield path, regex, getattr(route, "methods", None), not convertors


def method_table(app: Any) -> MethodTable:
    table: MethodTable | None = getattr(app.state, "method_table", None)
    if table is None:
        table = app.state.method_table = MethodTable(app.routes)
    return table


def method_not_allowed(path: str, allowed: list[str]) -> JSONResponse:
    problem = Problem(
        title="Method not allowed",
        status=405,
        code="method_not_allowed",
        detail=f"allowed here: {', '.join(allowed)}",
        instance=path,
    )
    return problem_response(problem, {"Allow": ", ".join(allowed)})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem_response(exc.problem(request.url.path), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = list(e.get("loc", ()))
            # "body" is noise to the caller; keep "query"/"path"/"header" as they tell where to look.
            if loc and loc[0] == "body":
                loc = loc[1:]
            errors.append({**e, "loc": loc})
        fe = field_errors(errors)
        detail = "; ".join(f"{f.field}: {f.reason}" for f in fe[:5])
        return problem_response(InvalidInput(detail, errors=fe).problem(request.url.path))

    @app.exception_handler(ValidationError)
    async def _pydantic(request: Request, exc: ValidationError) -> JSONResponse:
        fe = field_errors(exc.errors())
        return problem_response(
            InvalidInput("; ".join(f"{f.field}: {f.reason}" for f in fe[:5]), errors=fe).problem(request.url.path)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            # Starlette names the methods of the first route that matched the path only; there may be several.
            allowed = method_table(request.app).allowed(request.url.path) or [headers.get("allow", "")]
            return method_not_allowed(request.url.path, allowed)
        problem = Problem(
            title="Not found" if exc.status_code == 404 else "HTTP error",
            status=exc.status_code,
            detail=str(exc.detail),
            instance=request.url.path,
        )
        return problem_response(problem, headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, sa.exc.OperationalError) and exc.statement is None:
            # No connection to the database could be opened (e.g. PostgreSQL's connection slots are all taken:
            # "too many clients", the cause of the e2e tests' occasional 500 under a loaded machine). Nothing was
            # executed, so the request is safe to send again: say so, instead of an internal error.
            log.warning("database_unavailable", extra={"path": request.url.path, "error_type": type(exc).__name__})
            problem = Problem(
                title="Service unavailable",
                status=503,
                code="database_unavailable",
                detail="the database accepts no connection now; try again",
                instance=request.url.path,
            )
            return problem_response(problem, {"Retry-After": "1"})
        # Our formatters render an exception as its type and place only: messages can carry customer text.
        log.error(
            "unhandled_error",
            extra={"path": request.url.path, "error_type": type(exc).__name__},
            exc_info=exc,
        )
        return problem_response(
            Problem(title="Internal server error", status=500, code="internal_error", instance=request.url.path)
        )
