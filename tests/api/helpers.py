"""Small helpers for API tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

from app.core.db import transaction
from app.dedup.model import shipped
from app.duplicates.models import MatchCalibration
from app.reports import facts

# (merge threshold, suggestion floor) for steer(): tests of what happens after the decision, not of the model
MERGE_ALL = (0.0, 0.0)  # the best candidate always joins
SUGGEST_ALL = (1.5, 0.0)  # nothing joins, every candidate is suggested
NOTHING = (1.5, 1.5)  # nothing joins, nothing is suggested


def steer(app: FastAPI, thresholds: tuple[float, float]) -> MatchCalibration:
    """Store a calibration with these thresholds (before the app's first signal: the service reads it then)."""
    return _store(app.state.engine, thresholds)


def _store(engine: sa.Engine, thresholds: tuple[float, float]) -> MatchCalibration:
    m = shipped()
    row = MatchCalibration(
        platt_a=m.platt_a, platt_b=m.platt_b, merge_threshold=thresholds[0], suggest_floor=thresholds[1], labels=0
    )
    with transaction(engine) as session:
        session.add(row)
    return row


@contextmanager
def steered(engine: sa.Engine, thresholds: tuple[float, float]) -> Iterator[None]:
    """These thresholds for the signals posted inside the block, then the previous calibration again."""
    row = _store(engine, thresholds)
    try:
        yield
    finally:
        with transaction(engine) as session:
            session.execute(sa.delete(MatchCalibration).where(MatchCalibration.id == row.id))  # type: ignore[arg-type]


# Not data a request stores: every authenticated request, accepted or not, takes a token (app/core/ratelimit.py).
OPERATIONAL_TABLES = {"rate_limit_buckets"}


def row_counts(engine: sa.Engine) -> dict[str, int]:
    """Rows per table, to prove a rejected request stored nothing."""
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in SQLModel.metadata.sorted_tables
            if t.name not in OPERATIONAL_TABLES
        }


def reports_current(client: TestClient) -> None:
    """What the background refresh does every few seconds (report requests only read): bring the report tables up
    to date now, waiting for a refresh already running, so that a test reads its own writes."""
    app = cast(FastAPI, client.app)
    facts.refresh(app.state.engine, wait=True)
