"""One conformance suite for every capture source, run through the app's /capture routes with the vendor's
signing rules and its sandbox over HTTP: signed requests capture exactly one signal; bad signatures, stale
timestamps and malformed payloads get 4xx and store nothing; a replay stores nothing new."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.capture.models import CaptureTask
from app.signals.models import Signal
from tests.integration.capture_env import ENVS, count, now, signals


@pytest.fixture(params=sorted(ENVS))
def env(request: pytest.FixtureRequest, app: FastAPI) -> Iterator[Any]:
    with ENVS[request.param](app) as e:
        yield e


def stored(env: Any) -> tuple[int, int]:
    return count(env.app, Signal), count(env.app, CaptureTask)


def test_a_signed_request_captures_one_signal_from_the_source(env: Any) -> None:
    response = env.post(env.capturing_request())
    assert response.status_code in (200, 201), response.text
    (signal,) = signals(env.app)
    assert signal.source_system == env.name
    assert signal.status == "attributed" and signal.account_id is not None
    assert signal.source_reference


def test_a_replayed_request_stores_nothing_new(env: Any) -> None:
    request = env.capturing_request()
    first = env.post(request)
    before = stored(env)
    second = env.post(request)
    assert first.status_code < 300 and second.status_code < 300  # a repeat may say 200 where the first said 201
    assert stored(env) == before
    assert count(env.app, Signal) == 1


def test_a_bad_signature_is_401_and_stores_nothing(env: Any) -> None:
    request = env.capturing_request()
    before = stored(env)
    forged = env.sign(request.route, request.body, secret="not-the-secret")
    response = env.post(forged)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert stored(env) == before


def test_a_tampered_body_is_401(env: Any) -> None:
    request = env.capturing_request()
    before = stored(env)
    tampered = type(request)(request.route, request.body + b"x", request.headers)
    assert env.post(tampered).status_code == 401
    assert stored(env) == before


def test_a_missing_signature_is_401(env: Any) -> None:
    request = env.capturing_request()
    before = stored(env)
    bare = type(request)(request.route, request.body, {"Content-Type": request.headers.get("Content-Type", "")})
    assert env.post(bare).status_code == 401
    assert stored(env) == before


def test_a_stale_timestamp_is_401_and_stores_nothing(env: Any) -> None:
    if not env.has_timestamp:
        pytest.skip(f"{env.name} signs no timestamp; replays are stopped by idempotency")
    request = env.capturing_request()
    before = stored(env)
    stale = env.sign(request.route, request.body, timestamp=now() - 6 * 60)
    response = env.post(stale)
    assert response.status_code == 401
    assert stored(env) == before


def test_a_malformed_payload_is_4xx_naming_the_field_and_stores_nothing(env: Any) -> None:
    before = stored(env)
    response = env.post(env.malformed_request())
    assert 400 <= response.status_code < 500, response.text
    problem = response.json()
    assert problem["errors"][0]["field"]
    assert stored(env) == before


def test_an_unknown_route_is_404(env: Any) -> None:
    response = env.client.post(f"/capture/{env.name}/nope", content=b"{}")
    assert response.status_code == 404


def test_a_long_title_is_shortened_and_kept_whole_in_the_body(env: Any) -> None:
    words = "Customer asks whether the warehouse module can split shipments across regional depots " * 4
    text = words.strip()[:255]
    response = env.post(env.capturing_request(text))
    assert response.status_code < 300, response.text
    (signal,) = signals(env.app)
    assert len(signal.title) <= 200 and signal.title.endswith("…")
    assert text in signal.body


def test_each_source_has_its_own_rate_limit_per_sender(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    source = env.app.state.capture_sources[env.name]
    monkeypatch.setattr(source, "rate_limit_per_minute", 1)
    assert env.post(env.malformed_request()).status_code != 429
    response = env.post(env.malformed_request())
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert response.headers["content-type"] == "application/problem+json"
    # Another sender's address has its own bucket.
    request = env.malformed_request()
    path = f"/capture/{env.name}" + (f"/{request.route}" if request.route else "")
    with TestClient(env.app, raise_server_exceptions=False, client=("198.51.100.7", 40000)) as other:
        answer = other.post(path, content=request.body, headers=request.headers)
    assert answer.status_code != 429
