"""One client-side rate budget per CRM, shared by every worker process through the ``rate_budgets`` table.

A token bucket whose burst is a fraction of the vendor's window: with burst ``b`` and refill ``(L - b) / W``,
no rolling window of ``W`` seconds ever holds more than ``L`` requests, which is how CRMs count bursts. The row
is read and written under ``SELECT … FOR UPDATE`` (PostgreSQL) or the write lock of ``BEGIN IMMEDIATE``
(SQLite), so processes on many machines draw from one budget. ``blocked_until`` pauses every worker after
a rate-limit answer from the CRM (a circuit breaker).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Event

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import transaction
from app.core.dbutil import insert_for
from app.core.timeutil import utcnow
from app.sync.models import RateBudget


@dataclass(frozen=True)
class BudgetSpec:
    name: str
    capacity: float
    refill_per_second: float

    @classmethod
    def rolling_window(cls, name: str, limit: int, window_seconds: float, burst_fraction: float) -> BudgetSpec:
        """At most ``limit`` requests in any ``window_seconds``."""
        burst = max(1.0, float(limit) * burst_fraction)
        refill = max(limit - burst, 1.0) / window_seconds
        return cls(name, burst, refill)


def _locked_row(session: Session, spec: BudgetSpec, now: datetime) -> RateBudget:
    table = RateBudget.__table__  # type: ignore[attr-defined]
    stmt = insert_for(session, table).values(
        name=spec.name,
        tokens=spec.capacity,
        capacity=spec.capacity,
        refill_per_second=spec.refill_per_second,
        blocked_until=None,
        updated_at=now,
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
    row = session.get(RateBudget, spec.name, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def try_take(engine: Engine, spec: BudgetSpec, cost: float = 1.0) -> float:
    """Take ``cost`` tokens if available and return 0; otherwise take nothing and return seconds to wait."""
    now = utcnow()
    with transaction(engine) as session:
        row = _locked_row(session, spec, now)
        # The configuration can change between deployments; the newest process's view wins.
        row.capacity, row.refill_per_second = spec.capacity, spec.refill_per_second
        elapsed = max(0.0, (now - row.updated_at).total_seconds())
        tokens = min(spec.capacity, row.tokens + elapsed * spec.refill_per_second)
        row.updated_at = now
        if row.blocked_until is not None and row.blocked_until > now:
            row.tokens = tokens
            return (row.blocked_until - now).total_seconds()
        cost = min(cost, spec.capacity)
        if tokens >= cost:
            row.tokens = tokens - cost
            return 0.0
        row.tokens = tokens
        return (cost - tokens) / spec.refill_per_second


def take(engine: Engine, spec: BudgetSpec, cost: float, stop: Event, *, max_wait: float = 3600.0) -> bool:
    """Wait until ``cost`` tokens are taken; False if ``stop`` was set or ``max_wait`` passed first."""
    deadline = time.monotonic() + max_wait
    while True:
        wait = try_take(engine, spec, cost)
        if wait <= 0:
            return True
        if time.monotonic() + wait > deadline:
            return False
        if stop.wait(min(wait, 1.0)):
            return False


def block(engine: Engine, spec: BudgetSpec, seconds: float) -> None:
    """Pause every worker's use of this budget for ``seconds`` (the CRM said we are over its limit)."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    with transaction(engine) as session:
        row = _locked_row(session, spec, now)
        if row.blocked_until is None or row.blocked_until < until:
            row.blocked_until = until
        row.tokens = 0.0
        row.updated_at = now
