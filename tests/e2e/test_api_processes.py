"""`signal-pipeline serve --workers 2` on PostgreSQL: what one process knows, the other knows too.

Each request goes on a new connection, so the kernel spreads them over both worker processes. Every process
loaded the account directory at start; an import through one of them must be seen by both (the other catches
up by the delta), and an Idempotency-Key sent to both at once must execute once.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import signal_body
from tests.e2e.server import cli, serve
from tests.e2e.test_worker_processes import pg_url  # noqa: F401  (fixture: a scratch PostgreSQL database)

pytestmark = pytest.mark.e2e

ACCOUNT = {"crm_id": "A-77", "name": "Fjellbo Kraft AS", "domains": ["fjellbo.no"]}


@pytest.fixture
def two_processes(pg_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:  # noqa: F811
    env = {**os.environ, "SIGNAL_PIPELINE_DATABASE_URL": pg_url, "SIGNAL_PIPELINE_LOG_FORMAT": "json"}
    key = cli(env, "keys", "create", "--name", "e2e", "--scopes", "admin")
    with serve(env, tmp_path, workers=2) as url:
        yield url, {"Authorization": f"Bearer {key}"}


def _signal(i: int) -> dict[str, object]:
    """Signals from different people (one person's near-identical text would be a re-post, answered 200)."""
    return signal_body(
        customer={"email": "ekonomi@fjellbo.no"}, contributor={"email": f"person{i}@ourco.se", "function": "support"}
    )


def _post(url: str, auth: dict[str, str], path: str, body: object, **headers: str) -> httpx.Response:
    """POST on a new connection each; a 503 (no database connection to be had: PostgreSQL's slots are shared
    by every test run on the machine) is sent again after its Retry-After, as the contract tells a client to."""
    for _ in range(10):
        r = httpx.post(url + path, json=body, headers={**auth, **headers}, timeout=30)
        if r.status_code != 503:
            return r
        time.sleep(float(r.headers.get("retry-after", "1")))
    return r


def test_an_import_through_one_process_is_seen_by_every_process(two_processes: tuple[str, dict[str, str]]) -> None:
    url, auth = two_processes
    with ThreadPoolExecutor(8) as pool:  # both processes answer before the account exists
        before = list(pool.map(lambda i: _post(url, auth, "/v1/signals", _signal(i)), range(16)))
    assert {r.status_code for r in before} == {201} and {r.json()["status"] for r in before} == {"needs_review"}
    imported = _post(url, auth, "/v1/accounts/import", {"accounts": [ACCOUNT]})
    assert imported.status_code == 200 and imported.json()["created"] == 1
    with ThreadPoolExecutor(8) as pool:
        after = list(pool.map(lambda i: _post(url, auth, "/v1/signals", _signal(100 + i)), range(32)))
    assert {r.status_code for r in after} == {201}
    assert {(r.json()["account"] or {}).get("crm_id") for r in after} == {"A-77"}


def test_one_idempotency_key_sent_to_both_processes_at_once_executes_once(
    two_processes: tuple[str, dict[str, str]],
) -> None:
    url, auth = two_processes
    body = signal_body()
    key = f"e2e-{uuid.uuid4()}"
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _post(url, auth, "/v1/signals", body, **{"Idempotency-Key": key}), range(16)))
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["id"] for r in answers}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 15
    listed = httpx.get(url + "/v1/signals", headers=auth, timeout=30).json()["items"]
    assert [s["source"]["reference"] for s in listed].count(body["source"]["reference"]) == 1  # type: ignore[index]


@pytest.fixture(params=["postgresql", "redis"])
def two_limited_processes(
    request: pytest.FixtureRequest,
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> Iterator[tuple[str, dict[str, str]]]:
    """Two processes whose API keys may send 10 requests at once and then one a minute."""
    env = {
        **os.environ,
        "SIGNAL_PIPELINE_DATABASE_URL": pg_url,
        "SIGNAL_PIPELINE_LOG_FORMAT": "json",
        "SIGNAL_PIPELINE_RATE_LIMIT_PER_MINUTE": "1",
        "SIGNAL_PIPELINE_RATE_LIMIT_BURST": "10",
    }
    env.pop("SIGNAL_PIPELINE_REDIS_URL", None)
    if request.param == "redis":
        redis_url = os.environ.get("TEST_REDIS_URL")
        if not redis_url:
            pytest.skip("TEST_REDIS_URL is not set")
        env["SIGNAL_PIPELINE_REDIS_URL"] = redis_url
    key = cli(env, "keys", "create", "--name", "e2e", "--scopes", "admin")
    with serve(env, tmp_path, workers=2) as url:
        yield url, {"Authorization": f"Bearer {key}"}


def test_a_keys_rate_limit_holds_across_both_processes(two_limited_processes: tuple[str, dict[str, str]]) -> None:
    url, auth = two_limited_processes

    def get(_: int) -> httpx.Response:
        return httpx.get(url + "/v1/accounts", headers=auth, timeout=30)  # a new connection each

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(get, range(30)))
    # One bucket for the key, wherever the request lands: 10 in the burst (a refill of one a minute may add one
    # on a slow machine), the rest refused with a Retry-After.
    ok = sum(r.status_code == 200 for r in answers)
    refused = [r for r in answers if r.status_code == 429]
    assert ok in (10, 11) and len(refused) == 30 - ok
    assert all(int(r.headers["retry-after"]) > 0 for r in refused)
