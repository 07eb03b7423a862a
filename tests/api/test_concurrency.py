"""Guarantee 2 under concurrency, over real HTTP to a real uvicorn: duplicates execute once, nobody gets a 5xx."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import sqlalchemy as sa

from tests.api.helpers import row_counts
from tests.conftest import LiveServer, signal_body


def _fire(url: str, headers: dict[str, str], body: object, n: int) -> list[httpx.Response]:
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: http.post(url, json=body, headers=headers), range(n)))


class TestConcurrentDuplicates:
    def test_twenty_requests_with_one_idempotency_key_store_one_signal(
        self, live_server: LiveServer, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        responses = _fire(f"{live_server.url}/v1/signals", {**auth, "Idempotency-Key": "burst-1"}, signal_body(), 20)
        statuses = [r.status_code for r in responses]
        assert all(s < 500 for s in statuses), statuses
        assert set(statuses) == {201}, statuses
        assert len({r.json()["id"] for r in responses}) == 1
        assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19
        assert row_counts(engine)["signals"] == 1

    def test_twenty_requests_with_one_source_reference_store_one_signal(
        self, live_server: LiveServer, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        body = signal_body(source={"system": "jira", "reference": "RACE-1"})
        responses = _fire(f"{live_server.url}/v1/signals", auth, body, 20)
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 19 + [201], statuses
        assert len({r.json()["id"] for r in responses}) == 1
        counts = row_counts(engine)
        assert counts["signals"] == 1 and counts["contributors"] == 1
