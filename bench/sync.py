"""Sync benchmark: the real worker and adapters against each CRM sandbox over HTTP, on PostgreSQL.

    .venv/bin/python bench/sync.py [--n 10000] [--crms hubspot,salesforce] [--steady-seconds 15] [--rate 20]
                                   [--workers 2] [--skip-steady]

1. Bulk: N new opportunities (2 contributors each, both CRM users) already in the outbox; one worker drains
   them. Prints API calls the sandbox received against the floor (HubSpot 2·⌈N/100⌉ for upsert plus
   associations; Salesforce ⌈N/200⌉ + ⌈T/200⌉ for T team rows), wall time and records/s. The HubSpot sandbox
   enforces 190 requests per 10 s; the worker's shared budget keeps under it.
1b. Bulk with ``--workers M`` (M > 1): the same outbox drained by M sync worker processes
   (``python -m app.sync.worker``, as deployed), all sharing the one sandbox. Prints drain time, records/s, the
   ratio to the one worker of 1. (same run), and the duplicate CRM records (records beyond one per opportunity;
   must be 0).
2. Steady: signals posted through the API (real ingest, one new opportunity each) at a steady rate while the
   worker runs as in ``serve``; a watcher polls the sandbox for each opportunity. Prints ingest-to-visible-in-
   CRM latency p50/p99.

PostgreSQL comes from BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test; a scratch
database is created next to it and dropped afterwards).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.auth import create_key  # noqa: E402
from app.core.db import make_engine, normalise_url, transaction  # noqa: E402
from app.core.migrate import upgrade  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from app.sync.adapters import build_adapter  # noqa: E402
from app.sync.pull import pull_all  # noqa: E402
from app.sync.worker import SyncWorker, WorkerConfig  # noqa: E402
from integrations.hubspot import HubSpotSettings  # noqa: E402
from integrations.salesforce import SalesforceSettings  # noqa: E402
from tests.integration.hubspot_env import CLIENT_SECRET, TOKEN, hubspot_env  # noqa: E402
from tests.integration.salesforce_env import salesforce_env  # noqa: E402
from tests.integration.test_sync_support import (  # noqa: E402
    crm_copies,
    ensure_account,
    jobs_by_state,
    seed_opportunities,
)

PG = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
CONTRIBUTORS = ("ada@ourco.se", "bo@ourco.se")


@contextmanager
def scratch_pg() -> Iterator[str]:
    name = f"sp_bench_sync_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalise_url(PG), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def crm_env(crm: str) -> AbstractContextManager[Any]:
    if crm == "hubspot":
        # The sandbox enforces HubSpot's Pro/Enterprise burst: 190 requests per rolling 10 s.
        return hubspot_env(sandbox={"rate_limit_per_window": 190, "rate_limit_window_seconds": 10.0})
    return _salesforce_with_team_selling()


@contextmanager
def _salesforce_with_team_selling() -> Iterator[Any]:
    # The sandbox starts like a new org, Team Selling off; the floor counts team rows, so switch it on.
    with salesforce_env() as env:
        env.control.enable_team_selling()
        yield env


def settings_for(crm: str, env: Any, db_url: str) -> Settings:
    common: dict[str, Any] = {"database_url": db_url, "log_level": "warning", "log_format": "text", "crm": crm}
    if crm == "hubspot":
        hubspot = HubSpotSettings(
            base_url=env.base_url,
            access_token=SecretStr(TOKEN),
            client_secret=SecretStr(CLIENT_SECRET),
            timeout_seconds=5.0,
            rate_limit=190,
        )
        return Settings(**common, crm_settings=hubspot)
    cfg = env.config
    salesforce = SalesforceSettings(
        login_url=cfg.login_url,
        client_id=cfg.client_id,
        client_secret=SecretStr(cfg.client_secret),
        username=cfg.username,
        password=SecretStr(cfg.password),
        ca_bundle=cfg.ca_bundle,
        timeout_seconds=10.0,
    )
    return Settings(**common, crm_settings=salesforce)


def floor(crm: str, n: int, team_rows: int) -> int:
    if crm == "hubspot":
        return 2 * math.ceil(n / 100)
    return math.ceil(n / 200) + math.ceil(team_rows / 200)


@contextmanager
def outbox_of(crm: str, n: int) -> Iterator[tuple[Settings, Any, sa.Engine, Any]]:
    """A scratch database whose outbox holds ``n`` new opportunities of one account known to the CRM sandbox, with
    its users and owners pulled: the steady state the call floor assumes. Yields settings, adapter, engine, env."""
    with scratch_pg() as db_url, crm_env(crm) as env:
        settings = settings_for(crm, env, db_url)
        adapter = build_adapter(settings)
        assert adapter is not None
        engine = make_engine(db_url)
        for email in CONTRIBUTORS:
            env.control.seed_user(email)
        company = env.control.seed_account("Nordkraft AB", "nordkraft.se", owner_email="owner@ourco.se")
        pull_all(engine, adapter)
        account = ensure_account(engine, crm, company)
        seed_opportunities(engine, n, crm=crm, account_id=account, contributors=CONTRIBUTORS)
        try:
            yield settings, adapter, engine, env
        finally:
            engine.dispose()


def bulk(crm: str, n: int) -> dict[str, float]:
    with outbox_of(crm, n) as (settings, adapter, engine, env):
        worker = SyncWorker(engine, adapter, WorkerConfig.from_settings(settings, adapter), worker_id="bench")
        calls_before = env.control.call_count()
        started = time.perf_counter()
        worker.drain(timeout=1800)
        wall = time.perf_counter() - started
        calls = env.control.call_count() - calls_before
        states = jobs_by_state(engine)
        copies = len({o.opportunity_id for o in env.control.opportunities()})
    team_rows = n * len(CONTRIBUTORS)
    minimum = floor(crm, n, team_rows if crm == "salesforce" else 0)
    assert states == {"done": n}, states
    assert copies == n, copies
    return {"calls": calls, "floor": minimum, "ratio": calls / minimum, "wall": wall, "per_s": n / wall}


def worker_environment(settings: Settings, worker_id: str) -> dict[str, str]:
    """The variables a ``python -m app.sync.worker`` process reads to sync like ``settings``."""
    environ = {
        **os.environ,
        "SIGNAL_PIPELINE_DATABASE_URL": settings.database_url,
        "SIGNAL_PIPELINE_CRM": settings.crm,
        "SIGNAL_PIPELINE_LOG_LEVEL": "warning",
        "SIGNAL_PIPELINE_WORKER_ID": worker_id,
        "SIGNAL_PIPELINE_SYNC_PULL_INTERVAL_SECONDS": "0",
    }
    vendor = settings.crm_settings
    assert vendor is not None
    for name in type(vendor).model_fields:
        value = getattr(vendor, name)
        if value is not None:
            value = value.get_secret_value() if isinstance(value, SecretStr) else value
            environ[type(vendor).env_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
    return environ


def bulk_processes(crm: str, n: int, workers: int) -> dict[str, float]:
    """``bulk`` with ``workers`` worker processes draining the one outbox at once."""
    with outbox_of(crm, n) as (settings, _adapter, engine, env):
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "app.sync.worker"],
                cwd=ROOT,
                env=worker_environment(settings, f"bench-{i}"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(workers)
        ]
        try:
            deadline = time.monotonic() + 1800
            while jobs_by_state(engine) != {"done": n}:
                assert time.monotonic() < deadline, jobs_by_state(engine)
                assert all(p.poll() is None for p in procs), "a worker process exited"
                time.sleep(0.1)
            wall = time.perf_counter() - started  # process start-up included: what a deployment pays
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=60)
        copies = crm_copies(env.control)
    assert len(copies) == n, len(copies)
    return {"wall": wall, "per_s": n / wall, "duplicates": sum(c - 1 for c in copies.values())}


def steady(crm: str, seconds: float, rate: float) -> dict[str, float]:
    total = int(seconds * rate)
    with scratch_pg() as db_url, crm_env(crm) as env:
        settings = settings_for(crm, env, db_url)
        companies = [env.control.seed_account(f"Kund {i} AB", f"kund{i}.se") for i in range(total)]
        app = create_app(settings)
        engine = app.state.engine
        adapter = build_adapter(settings)
        assert adapter is not None
        pull_all(engine, adapter)
        with transaction(engine) as session:
            _key, raw = create_key(session, "bench", ["signals:write:any"], None)
        headers = {"Authorization": f"Bearer {raw}"}

        seen: dict[str, float] = {}
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                now = time.time()
                for o in env.control.opportunities():
                    if o.opportunity_id and o.opportunity_id not in seen:
                        seen[o.opportunity_id] = now
                stop.wait(0.01)

        worker = SyncWorker(
            make_engine(db_url, pool_size=2),
            adapter,
            WorkerConfig.from_settings(settings, adapter),
            worker_id="serve",
            stop=stop,
        )
        threads = [threading.Thread(target=worker.run, daemon=True), threading.Thread(target=watch, daemon=True)]
        for t in threads:
            t.start()
        posted: dict[str, float] = {}
        with TestClient(app) as client:
            t0 = time.perf_counter()
            for i in range(total):
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                body = {
                    "contributor": {"email": CONTRIBUTORS[i % 2], "function": "support"},
                    "customer": {"crm_account_id": companies[i]},
                    "kind": "inefficiency",
                    "title": f"Observation {i}: invoices re-keyed by hand",
                    "body": "Finance types every supplier invoice into the ERP manually.",
                    "source": {"system": "bench", "reference": str(uuid.uuid4())},
                }
                start = time.time()
                r = client.post("/v1/signals", json=body, headers=headers)
                assert r.status_code == 201, r.text
                posted[r.json()["opportunity"]["id"]] = start
            achieved = total / (time.perf_counter() - t0)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(k in seen for k in posted):
                time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        worker.engine.dispose()
    latencies = sorted(seen[k] - v for k, v in posted.items() if k in seen)
    missing = len(posted) - len(latencies)
    return {
        "signals": total,
        "rate": achieved,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)],
        "missing": missing,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--crms", default="hubspot,salesforce")
    parser.add_argument("--steady-seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1, help="also drain with this many worker processes")
    parser.add_argument("--skip-steady", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)", flush=True)
    for crm in args.crms.split(","):
        b = bulk(crm, args.n)
        print(
            f"{crm:10s} bulk   N={args.n}: {b['calls']:.0f} API calls, floor {b['floor']:.0f} "
            f"(ratio {b['ratio']:.2f}, target <= 1.10); wall {b['wall']:.1f} s ({b['per_s']:.0f} records/s)",
            flush=True,
        )
        if args.workers > 1:
            m = bulk_processes(crm, args.n, args.workers)
            print(
                f"{crm:10s} bulk   N={args.n}, {args.workers} worker processes: drained in {m['wall']:.1f} s "
                f"({m['per_s']:.0f} records/s, {m['per_s'] / b['per_s']:.2f} x one worker in-process); "
                f"duplicate CRM records: {m['duplicates']:.0f} (must be 0)",
                flush=True,
            )
        if args.skip_steady:
            continue
        s = steady(crm, args.steady_seconds, args.rate)
        print(
            f"{crm:10s} steady {s['signals']:.0f} signals at {s['rate']:.1f}/s: ingest-to-CRM "
            f"p50 {s['p50']:.2f} s, p99 {s['p99']:.2f} s (target p50 <= 2 s); not visible: {s['missing']:.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
