"""Sync workers as real processes (``python -m app.sync.worker``) on PostgreSQL against the HubSpot sandbox over
HTTP: a worker SIGKILLed mid-batch and restarted, and two or four workers draining one outbox. The invariant is the
same: every opportunity exactly once in the CRM, every job done.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.core.db import make_engine, normalise_url
from app.core.migrate import upgrade
from app.sync.models import SyncJob
from integrations.sandbox.control import Fault, FaultKind
from tests.integration.hubspot_env import TOKEN, HubSpotEnv, hubspot_env
from tests.integration.test_sync_support import crm_copies, ensure_account, jobs_by_state, seed_opportunities

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    admin = sa.create_engine(normalise_url(PG), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = f"sp_worker_{uuid.uuid4().hex[:8]}"
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        pytest.skip("PostgreSQL is not reachable")
    url = PG.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def hs() -> Iterator[HubSpotEnv]:
    with hubspot_env() as env:
        yield env


def start_worker(db_url: str, env: HubSpotEnv, worker_id: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    environ = {
        **os.environ,
        "SIGNAL_PIPELINE_DATABASE_URL": db_url,
        "SIGNAL_PIPELINE_CRM": "hubspot",
        "SIGNAL_PIPELINE_HUBSPOT_BASE_URL": env.base_url,
        "SIGNAL_PIPELINE_HUBSPOT_ACCESS_TOKEN": TOKEN,
        "SIGNAL_PIPELINE_HUBSPOT_TIMEOUT_SECONDS": "5",
        "SIGNAL_PIPELINE_HUBSPOT_RATE_LIMIT": "180",  # leaves room for each process's owners read
        "SIGNAL_PIPELINE_SYNC_POLL_SECONDS": "0.05",
        "SIGNAL_PIPELINE_SYNC_PULL_INTERVAL_SECONDS": "0",
        "SIGNAL_PIPELINE_SYNC_BACKOFF_BASE_SECONDS": "0.1",
        "SIGNAL_PIPELINE_LOG_FORMAT": "json",
        "SIGNAL_PIPELINE_WORKER_ID": worker_id,
        **{f"SIGNAL_PIPELINE_{k.upper()}": v for k, v in extra.items()},
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.sync.worker"], cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT
        )


def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def batch_events(log: Path) -> list[dict[str, object]]:
    out = []
    for line in log.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "sync.batch":
            out.append(event)
    return out


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)  # finishing the batch in hand; generous, as a loaded machine is slow
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_worker_killed_mid_batch_and_restarted_leaves_every_opportunity_exactly_once(
    pg_url: str, hs: HubSpotEnv, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    account = ensure_account(engine, "hubspot", hs.control.seed_account("Nordkraft AB", "nordkraft.se"))
    ids = seed_opportunities(engine, 1000, crm="hubspot", account_id=account)
    # Each write commits in the CRM, then its answer takes 0.3 s: most of a batch's life is the window where
    # the CRM has it and our database does not.
    hs.control.add_fault(Fault(FaultKind.timeout_after_commit, times=10_000, seconds=0.3, path=hs.write_path))
    log = tmp_path / "worker.log"
    lease = {"sync_lease_seconds": "3", "sync_batch_size": "50"}

    first = start_worker(pg_url, hs, "doomed", log, **lease)
    try:
        wait_until(lambda: len(hs.control.opportunities()) >= 300, 60, "300 deals before the kill")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    t = SyncJob.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        orphaned = conn.execute(sa.select(sa.func.count()).where(t.c.claimed_by == "doomed")).scalar_one()
    in_crm_at_kill = len(hs.control.opportunities())
    assert orphaned > 0, "the kill should land while a batch is claimed"
    assert in_crm_at_kill < 1000

    killed_at = time.monotonic()
    second = start_worker(pg_url, hs, "survivor", log, **lease)
    try:
        wait_until(lambda: jobs_by_state(engine) == {"done": 1000}, 90, "all jobs done after the restart")
    finally:
        stop(second)
    assert time.monotonic() - killed_at < 60
    copies = crm_copies(hs.control)
    assert sorted(copies) == sorted(str(i) for i in ids)
    assert set(copies.values()) == {1}, "an opportunity was created twice"
    engine.dispose()


@pytest.mark.parametrize("workers", [2, 4])
def test_worker_processes_drain_2000_opportunities_each_exactly_once(
    pg_url: str, hs: HubSpotEnv, tmp_path: Path, workers: int
) -> None:
    engine = make_engine(pg_url)
    account = ensure_account(engine, "hubspot", hs.control.seed_account("Acme AB", "acme.se"))
    ids = seed_opportunities(engine, 2000, crm="hubspot", account_id=account)
    hs.control.add_fault(Fault(FaultKind.latency, times=10_000, seconds=0.05, path=hs.write_path))
    logs = [tmp_path / f"worker-{i}.log" for i in range(workers)]

    procs = [start_worker(pg_url, hs, f"w{i}", logs[i], sync_batch_size="50") for i in range(workers)]
    try:
        wait_until(lambda: jobs_by_state(engine) == {"done": 2000}, 90, "2,000 jobs done")
    finally:
        for p in procs:
            stop(p)
    assert [p.returncode for p in procs] == [0] * workers  # SIGTERM finishes the batch and exits cleanly

    copies = crm_copies(hs.control)
    assert sorted(copies) == sorted(str(i) for i in ids)
    assert set(copies.values()) == {1}
    # A job claimed twice would have been created twice: HubSpot's unique property turns the second create into
    # a conflict, which the adapter resolves with a batch read. None happened: SKIP LOCKED never double-claimed.
    assert hs.control.call_count("/crm/v3/objects/deals/batch/read") == 0
    per_worker = Counter(str(e["worker_id"]) for log in logs for e in batch_events(log))
    assert sum(int(e["synced"]) for log in logs for e in batch_events(log)) == 2000  # type: ignore[call-overload]
    assert len(per_worker) == workers, per_worker
    engine.dispose()
