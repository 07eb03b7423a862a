"""The escalation sweep, run by every background process (sync workers, the embedded server).

Each sweep settles the routes that fell due in one transaction; on PostgreSQL concurrent sweeps skip each other's
locked routes, and a settled route never comes back, so each overdue opportunity escalates exactly once.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.core.db import transaction
from app.routing.service import SWEEP_BATCH, escalate_due

log = logging.getLogger("signal_pipeline.routing")


def sweep(engine: Engine) -> int:
    """Settle every route due now, a batch per transaction; returns how many escalated."""
    total = 0
    while True:
        with transaction(engine) as session:
            escalated, seen = escalate_due(session)
        total += escalated
        if seen < SWEEP_BATCH:
            return total


def run_escalation_loop(engine: Engine, stop: threading.Event, *, interval: float) -> None:
    """Sweep every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            escalated = sweep(engine)
            if escalated:
                log.info("routing.escalated", extra={"opportunities": escalated})
        except sa.exc.SQLAlchemyError as exc:
            log.warning("routing.sweep_failed", extra={"error_type": type(exc).__name__})
        stop.wait(interval)
