"""Prometheus metrics of the sync: counters from the worker, outbox gauges read from the database at scrape.

``router`` serves ``GET /metrics`` from the API process (gauges are refreshed from the database on each
scrape, so they are right whichever process did the work). Worker processes can serve their own counters with
``serve_worker_metrics(port)``.
"""

from __future__ import annotations

import contextlib

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.engine import Engine

from app.sync import status as sync_status

RECORDS = Counter("signal_pipeline_sync_records_total", "Records the worker finished, by result", ["crm", "result"])
CALLS = Counter(
    "signal_pipeline_sync_upsert_calls_total", "Adapter upsert calls (each may be a few HTTP requests)", ["crm"]
)
ERRORS = Counter(
    "signal_pipeline_sync_errors_total", "Failed upsert calls and rejected records, by code", ["crm", "code"]
)
BATCH_SECONDS = Histogram(
    "signal_pipeline_sync_batch_seconds",
    "Wall time of one claimed batch, from claim to recorded result",
    ["crm"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
JOBS = Gauge("signal_pipeline_sync_jobs", "Sync jobs by state (read from the database at scrape)", ["crm", "state"])
LAG = Gauge("signal_pipeline_sync_lag_seconds", "Age of the oldest unsynced change (database, at scrape)", ["crm"])

router = APIRouter(tags=["metrics"])


def refresh_gauges(engine: Engine) -> None:
    with contextlib.suppress(sa.exc.SQLAlchemyError):
        for crm in sync_status.read_status(engine, last_errors=0):
            for state in ("pending", "retrying", "dead", "done"):
                JOBS.labels(crm.crm, state).set(getattr(crm, state))
            LAG.labels(crm.crm).set(crm.lag_seconds)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    refresh_gauges(request.app.state.engine)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def serve_worker_metrics(port: int) -> None:
    """Expose this worker process's counters on ``port`` (a daemon thread)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr="0.0.0.0")  # noqa: S104 - scraped from other hosts
