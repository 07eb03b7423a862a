"""The orjson fast path of app.core.input_limits.json_problem never lets through what the exact check refuses."""

from __future__ import annotations

import json

import pytest

from app.core import input_limits
from schemas.limits import MAX_JSON_DEPTH, MAX_JSON_INTEGER


def nested(depth: int) -> bytes:
    return json.dumps(json.loads("[" * depth + "]" * depth)).encode()


BODIES = [
    b'{"title": "t", "value": {"amount": 12000}}',
    b"[1e-400]",
    b"1e400",
    str(MAX_JSON_INTEGER).encode(),
    str(MAX_JSON_INTEGER + 1).encode(),
    str(-MAX_JSON_INTEGER - 1).encode(),
    b"123456789012345678901234567890",
    b"NaN",
    b"[Infinity]",
    b'{"a": "\\ud800"}',
    b"\xff\xfe",
    b"1.5",
    b"true",
    nested(MAX_JSON_DEPTH),
    nested(MAX_JSON_DEPTH + 1),
    b'{"a": {"b": [[{"c": [1, 2, 3]}]]}}',
    b"not json",
]


@pytest.mark.parametrize("body", BODIES)
def test_fast_path_agrees_with_the_exact_check(body: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = input_limits._plainly_within_limits(body)
    monkeypatch.setattr(input_limits, "_plainly_within_limits", lambda _: False)
    exact = input_limits.json_problem(body)
    if fast:
        assert exact is None  # the fast path only ever says "within limits", and only when it is


def test_fast_path_takes_the_common_body() -> None:
    body = b'{"contributor": {"email": "a@b.se"}, "kind": "expansion", "title": "t", "n": [1, 2, 3]}'
    assert input_limits._plainly_within_limits(body)
    assert not input_limits._plainly_within_limits(nested(MAX_JSON_DEPTH + 1))
    assert not input_limits._plainly_within_limits(str(MAX_JSON_INTEGER + 1).encode())
