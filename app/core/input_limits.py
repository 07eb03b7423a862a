"""Request checks that apply to every endpoint, before any handler runs (limits: ``schemas/limits.py``).

- NUL characters in the path or the query string (PostgreSQL text cannot hold them): 422 naming the part.
- JSON bodies: UTF-8, nesting at most ``MAX_JSON_DEPTH``, numbers inside I-JSON's range (RFC 7493 section 2.2):
  no NaN or Infinity, no integer beyond +/-(2**53 - 1), no float that overflows or underflows (``1e-400``
  would otherwise be stored as 0). A body that is not JSON at all is left to the handler, which names the
  position of the syntax error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import InvalidInput, problem_response
from schemas.common import FieldError
from schemas.limits import MAX_JSON_DEPTH, MAX_JSON_INTEGER

JSON_TYPES = ("application/json", "")  # FastAPI parses a body without Content-Type as JSON too
# The longest integer literal that can be within MAX_JSON_INTEGER (sign included); longer ones are never parsed.
_MAX_INT_CHARS = len(str(MAX_JSON_INTEGER)) + 1


def query_problem(path: str, query_string: bytes) -> FieldError | None:
    """The first path or query part holding a NUL character."""
    if "\x00" in path:
        return FieldError(field="path", reason="must not contain NUL characters", code="nul_character")
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            shown = name.replace("\x00", "") or "?"
            return FieldError(field=f"query.{shown}", reason="must not contain NUL characters", code="nul_character")
    return FieldError(field="query", reason="must not contain NUL characters", code="nul_character")


class _Rejected:
    """Stands in for a number literal outside I-JSON's range, so its location can be reported."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def json_problem(body: bytes) -> FieldError | None:
    """Why ``body`` breaks the JSON limits, or None (also None for text that is not JSON at all)."""
    if _plainly_within_limits(body):
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return FieldError(field="body", reason="must be UTF-8 encoded JSON", code="encoding")
    rejected: list[_Rejected] = []

    def number(literal: str, parse: type[int] | type[float]) -> Any:
        if parse is int:
            if len(literal) <= _MAX_INT_CHARS and abs(int(literal)) <= MAX_JSON_INTEGER:
                return 0
        else:
            value = float(literal)
            mantissa = literal.lower().split("e")[0].strip("-+0.")
            if value not in (float("inf"), float("-inf")) and (value != 0.0 or not mantissa):
                return 0.0
        rejected.append(_Rejected(literal))
        return rejected[-1]

    def constant(literal: str) -> Any:
        rejected.append(_Rejected(literal))
        return rejected[-1]

    try:
        document = json.loads(
            text,
            parse_int=lambda s: number(s, int),
            parse_float=lambda s: number(s, float),
            parse_constant=constant,
        )
    except RecursionError:
        return _too_deep()
    except ValueError:
        return None
    if text.count("{") + text.count("[") > MAX_JSON_DEPTH and _depth(document) > MAX_JSON_DEPTH:
        return _too_deep()
    if rejected:
        where = _locate(document, rejected[0]) or "body"
        reason = f"{rejected[0].literal[:40]} is not a finite number within +/-{MAX_JSON_INTEGER} (I-JSON)"
        return FieldError(field=where, reason=reason, code="number_out_of_range")
    return None


def _plainly_within_limits(body: bytes) -> bool:
    """The common case, decided by orjson at a fraction of the exact check's cost: a body orjson parses (it
    refuses invalid UTF-8, NaN, Infinity and lone surrogates) whose numbers are all integers within range and
    whose nesting is within the limit. Anything else (a float, whose literal alone tells an underflow; an
    integer orjson widened to a float; a parse error) is left to the exact check below."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    for value, level in _nodes(document):
        if isinstance(value, dict | list):
            if level > MAX_JSON_DEPTH:
                return False
        elif isinstance(value, float) or (
            isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_JSON_INTEGER
        ):
            return False
    return True


def _too_deep() -> FieldError:
    return FieldError(field="body", reason=f"JSON may nest at most {MAX_JSON_DEPTH} levels", code="too_deep")


def _nodes(document: Any) -> Iterator[tuple[Any, int]]:
    """Every value of a parsed document with its nesting level (the top value is at level 1), not descending into
    containers nested deeper than the limit (their contents cannot change the answer)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, level = stack.pop()
        yield value, level
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        if level <= MAX_JSON_DEPTH:
            stack.extend((v, level + 1) for v in children)


def _depth(document: Any) -> int:
    return max((level for value, level in _nodes(document) if isinstance(value, dict | list)), default=0)


def _locate(document: Any, target: _Rejected) -> str | None:
    """The dotted path of ``target`` in the parsed document (list positions as numbers)."""
    stack: list[tuple[Any, list[str]]] = [(document, [])]
    while stack:
        value, path = stack.pop()
        if value is target:
            return ".".join(path) or None
        if isinstance(value, dict):
            stack.extend((v, [*path, str(k)]) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, [*path, str(i)]) for i, v in enumerate(value))
    return None


class InputLimits:
    """Applies ``query_problem`` to every request and ``json_problem`` to every JSON body: 422 problem+json."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = query_problem(scope["path"], scope.get("query_string", b""))
        if problem is None and scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE"):
            content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
            media = content_type.split(";")[0].strip().lower()
            if media in JSON_TYPES or media.endswith("+json"):
                body, receive = await _buffered(receive)
                problem = json_problem(body)
        if problem is not None:
            error = InvalidInput(f"{problem.field}: {problem.reason}", errors=[problem])
            await problem_response(error.problem(scope.get("path")))(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a receive callable that hands it on (BodyLimit has already bounded its size)."""
    chunks = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
