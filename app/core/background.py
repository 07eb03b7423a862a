"""The loops every background process runs beside the sync: notification delivery, housekeeping, escalation and
the report tables' refresh."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy.engine import Engine

from app.capture.service import TaskRunner, build_sources
from app.core.maintenance import run_maintenance
from app.core.settings import Settings
from app.notifications.delivery import run_delivery_loop
from app.reports.facts import run_refresh_loop
from app.routing.sweep import run_escalation_loop
from app.signals.service import IngestConfig


def start_loops(
    engine: Engine, settings: Settings, stop: threading.Event, *, capture: TaskRunner | None = None
) -> list[threading.Thread]:
    """Start the delivery, capture, maintenance, escalation and report refresh threads; they end once ``stop`` is
    set (join them then). ``capture`` runs the capture tasks; by default those of the sources the environment
    configures."""
    ttl = timedelta(hours=settings.idempotency_ttl_hours)
    capture = capture or TaskRunner(engine, IngestConfig.from_settings(settings), build_sources())
    threads = [
        threading.Thread(target=capture.run_loop, args=(stop,), name="capture", daemon=True),
        threading.Thread(
            target=run_delivery_loop,
            args=(engine, stop),
            kwargs={"policy": settings.webhook_policy},
            name="notifications",
            daemon=True,
        ),
        threading.Thread(
            target=run_maintenance, args=(engine, stop), kwargs={"ttl": ttl}, name="maintenance", daemon=True
        ),
        threading.Thread(
            target=run_escalation_loop,
            args=(engine, stop),
            kwargs={"interval": settings.routing_sweep_seconds},
            name="escalation",
            daemon=True,
        ),
        threading.Thread(target=run_refresh_loop, args=(engine, stop), name="reports", daemon=True),
    ]
    for thread in threads:
        thread.start()
    return threads
