"""End to end: the real `signal-pipeline` command, as a separate process on a free port, over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, signal_body

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent / "signal-pipeline"


@pytest.fixture
def server(tmp_path: Path, db_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    env = {**os.environ, "SIGNAL_PIPELINE_DATABASE_URL": db_url, "SIGNAL_PIPELINE_LOG_FORMAT": "json"}
    key = subprocess.run(
        [BIN, "keys", "create", "--name", "e2e", "--scopes", "signals:write,signals:read"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen([BIN, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)
        yield url, {"Authorization": f"Bearer {key}"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


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
