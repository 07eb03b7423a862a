"""Housekeeping that any one background process may run: expired idempotency records are deleted."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.core.db import transaction
from app.core.tables import IdempotencyRecord
from app.core.timeutil import utcnow

log = logging.getLogger("signal_pipeline.maintenance")
INTERVAL_SECONDS = 3600.0


def purge_idempotency_records(engine: Engine, ttl: timedelta) -> int:
    """Delete records older than ``ttl`` (an expired key is new again anyway); return how many."""
    with transaction(engine) as session:
        table = IdempotencyRecord.__table__  # type: ignore[attr-defined]
        result = session.execute(sa.delete(table).where(table.c.created_at < utcnow() - ttl))
    deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if deleted:
        log.info("idempotency_records_purged", extra={"deleted": deleted})
    return deleted


def run_maintenance(engine: Engine, stop: threading.Event, *, ttl: timedelta) -> None:
    """Purge hourly until ``stop`` is set."""
    while not stop.is_set():
        try:
            purge_idempotency_records(engine, ttl)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("maintenance_failed", extra={"error_type": type(exc).__name__})
        stop.wait(INTERVAL_SECONDS)
