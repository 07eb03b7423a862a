"""End to end: the real `signal-pipeline` command, as a separate process on a free port, over real HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import signal_body
from tests.e2e.server import cli, serve

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path, db_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    env = {**os.environ, "SIGNAL_PIPELINE_DATABASE_URL": db_url, "SIGNAL_PIPELINE_LOG_FORMAT": "json"}
    key = cli(env, "keys", "create", "--name", "e2e", "--scopes", "signals:write:any,signals:read")
    with serve(env, tmp_path) as url:
        yield url, {"Authorization": f"Bearer {key}"}


def test_post_then_read_back_over_http(server: tuple[str, dict[str, str]]) -> None:
    url, auth = server
    with httpx.Client(base_url=url, headers=auth, timeout=10) as http:
        body = signal_body()
        created = http.post("/v1/signals", json=body, headers={"Idempotency-Key": "e2e-1"})
        assert created.status_code == 201, created.text
        replay = http.post("/v1/signals", json=body, headers={"Idempotency-Key": "e2e-1"})
        assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == created.json()
        reused = http.post("/v1/signals", json={**body, "title": "Another one"}, headers={"Idempotency-Key": "e2e-1"})
        assert reused.status_code == 422
        got = http.get(f"/v1/signals/{created.json()['id']}")
        assert got.status_code == 200 and got.json()["title"] == created.json()["title"]
        assert http.get("/v1/signals").json()["items"][0]["id"] == created.json()["id"]
        assert httpx.get(url + "/v1/signals").status_code == 401
        assert http.get("/healthz").json() == {"status": "ok"}
