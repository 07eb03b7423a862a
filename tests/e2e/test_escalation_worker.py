"""The escalation sweep in real worker processes on PostgreSQL: two `signal-pipeline worker` processes sweep the same
routes many times a second, and a subscriber receives exactly one `opportunity.overdue` per opportunity nobody
triaged in time, never one per tick and never one per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.db import make_engine, transaction
from app.core.settings import Settings
from app.main import create_app
from app.notifications.models import NotificationEvent
from tests.api.test_routing import make_due
from tests.conftest import free_port, signal_body
from tests.e2e.test_worker_processes import ROOT, pg_url, stop, wait_until

__all__ = ["pg_url"]
pytestmark = pytest.mark.e2e


class Receiver:
    """A subscriber's endpoint: records every event body it is sent, answers 200."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        received = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def overdue(self) -> list[str]:
        return [str(e["opportunity_id"]) for e in self.events if e["type"] == "opportunity.overdue"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()


def start_worker(db_url: str, name: str, log: Path) -> subprocess.Popen[bytes]:
    environ = {
        **os.environ,
        "SIGNAL_PIPELINE_DATABASE_URL": db_url,
        "SIGNAL_PIPELINE_CRM": "none",
        "SIGNAL_PIPELINE_ALLOW_INSECURE_WEBHOOKS": "true",  # the receiver is http://127.0.0.1
        "SIGNAL_PIPELINE_ROUTING_SWEEP_SECONDS": "0.05",
        "SIGNAL_PIPELINE_LOG_FORMAT": "json",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", "--id", name],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_two_workers_escalate_each_overdue_opportunity_exactly_once(
    pg_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    # The receiver is http://127.0.0.1, which only SIGNAL_PIPELINE_ALLOW_INSECURE_WEBHOOKS lets a subscription use.
    app = create_app(Settings(database_url=pg_url, log_format="text", allow_insecure_webhooks=True))
    with TestClient(app) as client:
        from app.core.auth import create_key

        with transaction(app.state.engine) as session:
            _key, raw = create_key(session, "test", ["admin"])
        auth = {"Authorization": f"Bearer {raw}"}
        accounts = [
            {"crm_id": "A-1", "name": "Nordkraft AB", "domains": ["nordkraft.se"]},
            {"crm_id": "A-2", "name": "Tailspin Health", "domains": ["tailspin.example"]},
        ]
        assert client.post("/v1/accounts/import", json={"accounts": accounts}, headers=auth).status_code == 200
        r = client.post("/v1/routing/rules", json={"name": "desk", "queue": "sales-desk", "sla_hours": 4}, headers=auth)
        assert r.status_code == 201
        r = client.post(
            "/v1/subscriptions", json={"url": receiver.url, "events": ["opportunity.overdue"]}, headers=auth
        )
        assert r.status_code == 201, r.text
        opps = []
        for name, domain in (("Nordkraft AB", "nordkraft.se"), ("Tailspin Health", "tailspin.example")):
            body = signal_body(customer={"name": name, "domain": domain})
            r = client.post("/v1/signals", json=body, headers=auth)
            assert r.status_code == 201 and r.json()["opportunity"], r.text
            opps.append(r.json()["opportunity"]["id"])
    app.state.engine.dispose()

    engine = make_engine(pg_url)
    first, second = opps
    make_due(engine, first)
    workers = [start_worker(pg_url, f"w{i}", tmp_path / f"worker-{i}.log") for i in range(2)]
    try:
        wait_until(lambda: receiver.overdue() == [first], 60, "the first escalation delivered")
        # Both workers keep sweeping; the next opportunity to fall due escalates on a later tick, and by then the
        # first must not have escalated again.
        make_due(engine, second)
        wait_until(lambda: len(receiver.overdue()) >= 2, 60, "the second escalation delivered")
    finally:
        for p in workers:
            stop(p)
    assert [p.returncode for p in workers] == [0, 0]
    assert sorted(receiver.overdue()) == sorted([first, second])
    with engine.connect() as conn:
        t = NotificationEvent.__table__  # type: ignore[attr-defined]
        kinds = conn.execute(sa.select(t.c.opportunity_id).where(t.c.kind == "opportunity.overdue")).scalars().all()
    assert sorted(str(k) for k in kinds) == sorted([first, second])
    engine.dispose()
