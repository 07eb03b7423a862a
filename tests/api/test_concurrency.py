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


def _accounts(url: str, auth: dict[str, str]) -> None:
    rows = [{"crm_id": f"A-{i}", "name": f"Kund {i} AB", "domains": [f"kund{i}.se"]} for i in range(8)]
    assert httpx.post(f"{url}/v1/accounts/import", json={"accounts": rows}, headers=auth).status_code == 200


class TestConcurrentPlacement:
    def test_signals_naming_one_opportunity_at_once_all_count(
        self, live_server: LiveServer, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        _accounts(live_server.url, auth)
        first = httpx.post(
            f"{live_server.url}/v1/signals", json=signal_body(customer={"crm_account_id": "A-1"}), headers=auth
        ).json()
        opp = first["opportunity"]["id"]
        bodies = [
            signal_body(contributor={"email": f"p{i}@ourco.se"}, opportunity_ref=opp, title=f"Follow-up number {i}")
            for i in range(10)
        ]
        with httpx.Client(timeout=60) as http, ThreadPoolExecutor(10) as pool:
            got = list(pool.map(lambda b: http.post(f"{live_server.url}/v1/signals", json=b, headers=auth), bodies))
        assert [r.status_code for r in got] == [201] * 10
        detail = httpx.get(f"{live_server.url}/v1/opportunities/{opp}", headers=auth).json()
        assert detail["signal_count"] == len(detail["signals"]) == 11
        assert len(detail["contributors"]) == 11

    def test_two_batches_with_people_in_opposite_order_never_5xx(
        self, live_server: LiveServer, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        _accounts(live_server.url, auth)
        people = [f"person{i}@ourco.se" for i in range(60)]

        def batch(order: list[str], account: str) -> dict[str, object]:
            return {
                "signals": [
                    signal_body(
                        contributor={"email": p},
                        customer={"crm_account_id": account},
                        title=f"Note from {p}",
                        body=f"{p} noticed something about {account}",
                    )
                    for p in order
                ]
            }

        payloads = [batch(people[:: 1 if k % 2 else -1], f"A-{k}") for k in range(6)]
        with httpx.Client(timeout=120) as http, ThreadPoolExecutor(6) as pool:
            got = list(
                pool.map(lambda b: http.post(f"{live_server.url}/v1/signals/batch", json=b, headers=auth), payloads)
            )
        assert [r.status_code for r in got] == [200] * 6, [r.text[:200] for r in got if r.status_code != 200]
        assert sum(r.json()["created"] for r in got) == row_counts(engine)["signals"] == 6 * 60

    def test_two_assignments_of_one_signal_place_it_once(
        self, live_server: LiveServer, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        _accounts(live_server.url, auth)
        waiting = httpx.post(
            f"{live_server.url}/v1/signals", json=signal_body(customer={"email": "x@gmail.com"}), headers=auth
        ).json()
        assert waiting["status"] == "needs_review"
        url = f"{live_server.url}/v1/signals/{waiting['id']}/account"
        with httpx.Client(timeout=60) as http, ThreadPoolExecutor(2) as pool:
            got = list(pool.map(lambda a: http.post(url, json={"account": a}, headers=auth), ["A-4", "A-5"]))
        assert sorted(r.status_code for r in got) == [200, 409]
        counts = row_counts(engine)
        assert counts["opportunities"] == 1 and counts["credits"] == 1
