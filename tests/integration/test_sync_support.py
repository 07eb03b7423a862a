"""Helpers shared by the sync tests and the sync benchmark (no tests here).

``seed_opportunities`` writes opportunities exactly as ingest leaves them (account, contributors, signals,
credits, and the outbox row), in bulk, so tests of thousands of opportunities stay fast.
"""

from __future__ import annotations

import collections
import threading
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.core.ids import uuid7
from app.core.timeutil import utcnow
from app.opportunities.models import Credit, Opportunity
from app.signals.models import Signal
from app.sync import budget
from app.sync.models import SyncJob
from app.sync.retry import RetryPolicy
from app.sync.worker import SyncWorker, WorkerConfig
from integrations.base import CRMAdapter

FUNCTIONS = ("delivery", "support", "engineering", "consulting")


def ensure_account(engine: Engine, crm: str, crm_id: str | None, owner_crm_id: str | None = None) -> uuid.UUID:
    """An account row mirroring the CRM's (or a local-only one when ``crm_id`` is None)."""
    with engine.begin() as conn:
        t = Account.__table__  # type: ignore[attr-defined]
        key = crm_id or f"local-{uuid.uuid4().hex[:8]}"
        found = conn.execute(sa.select(t.c.id).where(t.c.crm == (crm if crm_id else "import"), t.c.crm_id == key))
        row = found.first()
        if row:
            return uuid.UUID(str(row[0]))
        acc_id = uuid7()
        now = utcnow()
        conn.execute(
            sa.insert(t).values(
                id=acc_id,
                crm=crm if crm_id else "import",
                crm_id=key,
                name=f"Account {key}",
                aliases=[],
                domains=[],
                owner_crm_id=owner_crm_id,
                created_at=now,
                updated_at=now,
            )
        )
        return acc_id


def seed_opportunities(
    engine: Engine,
    n: int,
    *,
    crm: str,
    account_id: uuid.UUID,
    contributors: Sequence[str] = ("ada@ourco.se", "bo@ourco.se"),
    title: str = "Invoices re-keyed by hand",
) -> list[uuid.UUID]:
    """``n`` opportunities at ``account_id``, each with one signal per contributor and a pending sync job."""
    now = utcnow()
    people: dict[str, uuid.UUID] = {}
    with engine.begin() as conn:
        ct = Contributor.__table__  # type: ignore[attr-defined]
        for i, email in enumerate(contributors):
            row = conn.execute(sa.select(ct.c.id).where(ct.c.email == email)).first()
            if row is None:
                cid = uuid7()
                conn.execute(
                    sa.insert(ct).values(
                        id=cid,
                        email=email,
                        function=FUNCTIONS[i % len(FUNCTIONS)],
                        created_at=now,
                        signal_count=0,
                    )
                )
                people[email] = cid
            else:
                people[email] = uuid.UUID(str(row[0]))
        opps: list[dict[str, Any]] = []
        signals: list[dict[str, Any]] = []
        credits: list[dict[str, Any]] = []
        jobs: list[dict[str, Any]] = []
        base = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
        ids: list[uuid.UUID] = []
        for k in range(n):
            oid = uuid7()
            ids.append(oid)
            first = base + timedelta(minutes=k)
            opps.append(
                {
                    "id": oid,
                    "account_id": account_id,
                    "title": f"{title} #{k}",
                    "kinds": ["inefficiency"],
                    "signal_count": len(contributors),
                    "first_seen_at": first,
                    "last_seen_at": first,
                    "status": "open",
                    "version": len(contributors),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for j, email in enumerate(contributors):
                sid = uuid7()
                signals.append(
                    {
                        "id": sid,
                        "contributor_id": people[email],
                        "account_id": account_id,
                        "opportunity_id": oid,
                        "status": "attributed",
                        "kind": "inefficiency",
                        "title": f"{title} #{k}",
                        "body": "Finance types every supplier invoice by hand.",
                        "observed_at": first + timedelta(seconds=j),
                        "received_at": now,
                        "source_system": "jira",
                        "source_reference": f"T-{oid.hex[-12:]}-{j}",
                        "source_url": f"https://jira.example/T-{oid.hex[-12:]}-{j}",
                        "customer_hint": {},
                        "attribution": {},
                        "match": {},
                    }
                )
                credits.append(
                    {
                        "id": uuid7(),
                        "opportunity_id": oid,
                        "contributor_id": people[email],
                        "role": "originator" if j == 0 else "co_contributor",
                        "first_signal_id": sid,
                        "first_observed_at": first + timedelta(seconds=j),
                        "signal_count": 1,
                    }
                )
            jobs.append(
                {
                    "id": uuid7(),
                    "opportunity_id": oid,
                    "crm": crm,
                    "state": "pending",
                    "wanted_version": len(contributors),
                    "synced_version": 0,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "dirty_since": now,
                    "updated_at": now,
                }
            )
        for table, rows in (
            (Opportunity.__table__, opps),  # type: ignore[attr-defined]
            (Signal.__table__, signals),  # type: ignore[attr-defined]
            (Credit.__table__, credits),  # type: ignore[attr-defined]
            (SyncJob.__table__, jobs),  # type: ignore[attr-defined]
        ):
            for start in range(0, len(rows), 2000):
                conn.execute(sa.insert(table), rows[start : start + 2000])
    return ids


def worker_config(adapter: CRMAdapter, **overrides: Any) -> WorkerConfig:
    """Fast backoff, a generous budget and a short poll: what a test wants unless it says otherwise."""
    retry = RetryPolicy(base_seconds=0.05, max_seconds=1.0, inline_attempts=4, inline_max_wait=5.0)
    config = WorkerConfig(
        batch_size=adapter.batch_size,
        lease_seconds=30.0,
        poll_seconds=0.05,
        max_attempts=5,
        retry=retry,
        budget=budget.BudgetSpec(adapter.name, capacity=1000.0, refill_per_second=1000.0),
    )
    retry_over = {k: overrides.pop(k) for k in list(overrides) if k in RetryPolicy.__dataclass_fields__}
    if retry_over:
        overrides["retry"] = replace(retry, **retry_over)
    return replace(config, **overrides)


class ManualClock:
    """A clock that stands still until a test moves it: retries come due when the test says, not when a real
    backoff happens to run out under load."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_worker(
    engine: Engine, adapter: CRMAdapter, *, clock: ManualClock | None = None, **overrides: Any
) -> SyncWorker:
    config = worker_config(adapter, **overrides)
    if clock is None:
        return SyncWorker(engine, adapter, config, worker_id="test", stop=threading.Event())
    return SyncWorker(engine, adapter, config, worker_id="test", stop=threading.Event(), clock=clock)


def jobs_by_state(engine: Engine) -> dict[str, int]:
    t = SyncJob.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.state, sa.func.count()).group_by(t.c.state)).all()
    return {str(s): int(c) for s, c in rows}


def crm_copies(control: Any) -> collections.Counter[str]:
    """How many CRM records hold each opportunity id (every value must be 1)."""
    return collections.Counter(o.opportunity_id for o in control.opportunities() if o.opportunity_id)


def write_calls(env: Any) -> int:
    """Requests the sandbox received on the CRM's opportunity write path (``env.write_path`` anywhere in it)."""
    with env.control.lock:
        paths = [c[1] if isinstance(c, tuple) else c for c in env.control.calls]
    return sum(1 for p in paths if env.write_path in p)
