"""Expired idempotency records are purged; live ones stay."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.maintenance import purge_idempotency_records
from tests.conftest import signal_body


def test_purge_deletes_only_expired_records(client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
    for key in ("old", "new"):
        client.post("/v1/signals", json=signal_body(), headers={**auth, "Idempotency-Key": key})
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE idempotency_records SET created_at = :t WHERE key = 'old'"), {"t": "2000-01-01"})
    assert purge_idempotency_records(engine, timedelta(hours=24)) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT key FROM idempotency_records")).scalars().all() == ["new"]
