"""Outbound notifications over real HTTP: signatures verify, retries back off, a receiver that is down for a while
gets every event once it is back, and nothing is lost across a restart of the delivering process."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from app.accounts.models import Account
from app.core.db import make_engine, transaction
from app.core.settings import Settings
from app.core.timeutil import utcnow
from app.notifications import delivery, signing
from app.notifications.events import emit
from app.notifications.models import NotificationDelivery
from app.opportunities.models import Opportunity
from integrations.outbound import OutboundPolicy
from tests.conftest import Resolver, free_port, signal_body

# These tests' receivers listen on http://127.0.0.1, which only this setting lets a subscription use.
LOCAL_RECEIVERS = OutboundPolicy(allow_insecure_loopback=True)


def deliver(engine: sa.Engine, **kw: Any) -> int:
    return delivery.deliver_due(engine, policy=LOCAL_RECEIVERS, **kw)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, log_format="text", allow_insecure_webhooks=True)


class Receiver:
    """A tiny HTTP receiver that verifies signatures like a subscriber would and records event ids."""

    def __init__(self, port: int, secret: str, status: int = 200) -> None:
        self.port, self.secret, self.status = port, secret, status
        self.received: list[dict[str, Any]] = []
        self.bad_signatures = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not signing.verify(outer.secret, self.headers.get(signing.HEADER), body):
                    outer.bad_signatures += 1
                    self.send_response(401)
                else:
                    event = json.loads(body)
                    assert event["id"] == self.headers[signing.EVENT_ID_HEADER]
                    outer.received.append(event)
                    self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def opportunity(engine: sa.Engine) -> uuid.UUID:
    with transaction(engine) as session:
        account = Account(crm_id="c1", name="Acme AB")
        session.add(account)
        session.flush()
        opp = Opportunity(account_id=account.id, title="More seats", first_seen_at=utcnow(), last_seen_at=utcnow())
        session.add(opp)
        session.flush()
        return opp.id


def subscribe(client: TestClient, auth: dict[str, str], url: str, events: list[str] | None = None) -> dict[str, Any]:
    r = client.post("/v1/subscriptions", json={"url": url, "events": events or []}, headers=auth)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    assert body["secret"].startswith("whsec_")
    return body


def states(engine: sa.Engine) -> list[tuple[str, int]]:
    with transaction(engine) as session:
        return sorted((d.state, d.attempts) for d in session.exec(select(NotificationDelivery)))


class TestSigning:
    def test_signature_verifies_and_tampering_does_not(self) -> None:
        body = b'{"id":"1"}'
        header = signing.sign("whsec_x", body, int(time.time()))
        assert signing.verify("whsec_x", header, body)
        assert not signing.verify("whsec_x", header, body + b" ")
        assert not signing.verify("whsec_y", header, body)
        assert not signing.verify("", header, body)

    def test_timestamps_outside_five_minutes_either_way_fail(self) -> None:
        body = b"{}"
        now = time.time()
        for skew in (-301, 301):
            header = signing.sign("s", body, int(now + skew))
            assert not signing.verify("s", header, body, now=now)
        assert signing.verify("s", signing.sign("s", body, int(now - 299)), body, now=now)

    def test_any_of_several_v1_values_is_accepted_during_rotation(self) -> None:
        body = b"{}"
        t = int(time.time())
        new = signing.sign("new", body, t).split(",")[1]
        old = signing.sign("old", body, t)
        assert signing.verify("new", f"{old},{new}", body)


class TestDelivery:
    def test_an_outcome_reaches_the_subscriber_signed(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, opportunity: uuid.UUID
    ) -> None:
        port = free_port()
        sub = subscribe(client, auth, f"http://127.0.0.1:{port}/hook")
        r = client.post(
            f"/v1/opportunities/{opportunity}/outcome",
            json={"status": "won", "amount": "1200.00", "currency": "SEK", "note": "Signed"},
            headers=auth,
        )
        assert r.status_code == 200, r.text
        with Receiver(port, sub["secret"]) as receiver:
            assert deliver(engine, limit=10) == 1
        assert receiver.bad_signatures == 0
        [event] = receiver.received
        assert event["type"] == "opportunity.closed"
        assert event["opportunity_id"] == str(opportunity)
        assert event["data"]["status"] == "won" and event["data"]["amount"] == "1200.00"
        log = client.get(f"/v1/subscriptions/{sub['id']}/deliveries", headers=auth).json()["items"]
        assert [(d["state"], d["attempts"], d["last_status_code"]) for d in log] == [("delivered", 1, 200)]
        assert deliver(engine, limit=10) == 0  # nothing left due

    def test_ingest_sees_subscriptions_made_and_deleted_after_it_started(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        # Ingest keeps a per-process copy of the active subscriptions (app.notifications.events.cached); creating
        # or deleting one must reach the copy before the next signal.
        account = {"crm_id": "N-1", "name": "Nordkraft AB", "domains": ["nordkraft.se"]}
        assert client.post("/v1/accounts/import", json={"accounts": [account]}, headers=auth).status_code == 200

        def post(title: str) -> None:
            body = signal_body(customer={"crm_account_id": "N-1"}, title=title)
            assert client.post("/v1/signals", json=body, headers=auth).json()["status"] == "attributed"

        post("Before anyone subscribed")  # the copy is loaded here: no subscriptions
        sub = subscribe(client, auth, "http://127.0.0.1:9/x", ["signal.attributed"])
        post("After the subscription")
        assert len(states(engine)) == 1
        assert client.delete(f"/v1/subscriptions/{sub['id']}", headers=auth).status_code == 204
        post("After the deletion")
        assert len(states(engine)) == 1

    def test_only_subscribed_kinds_are_delivered(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, opportunity: uuid.UUID
    ) -> None:
        subscribe(client, auth, "http://127.0.0.1:9/x", events=["opportunity.closed"])
        with transaction(engine) as session:
            emit(session, "opportunity.synced", opportunity_id=opportunity)
            emit(session, "opportunity.closed", opportunity_id=opportunity)
        assert len(states(engine)) == 1

    def test_events_emitted_in_a_rolled_back_transaction_are_never_sent(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, opportunity: uuid.UUID
    ) -> None:
        subscribe(client, auth, "http://127.0.0.1:9/x")
        with pytest.raises(RuntimeError), transaction(engine) as session:
            emit(session, "signal.attributed", opportunity_id=opportunity)
            raise RuntimeError("the ingest failed after emitting")
        assert states(engine) == []

    def test_a_receiver_down_for_a_while_gets_every_event_once_back(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, settings: Any, opportunity: uuid.UUID
    ) -> None:
        port = free_port()
        sub = subscribe(client, auth, f"http://127.0.0.1:{port}/hook")
        kinds = ["signal.attributed", "signal.merged", "opportunity.synced", "opportunity.stage_changed"]
        with transaction(engine) as session:
            for kind in kinds:
                emit(session, kind, opportunity_id=opportunity, data={"n": kind})
        # The receiver is down: two rounds fail and back off.
        assert deliver(engine, limit=10) == 4
        assert states(engine) == [("retrying", 1)] * 4
        assert deliver(engine, limit=10) == 0  # backing off: nothing is due yet
        later = utcnow() + timedelta(minutes=5)
        assert deliver(engine, limit=10, now=later) == 4
        assert states(engine) == [("retrying", 2)] * 4
        log = client.get(f"/v1/subscriptions/{sub['id']}/deliveries", headers=auth).json()["items"]
        assert {d["last_error"] for d in log} == {"ConnectError"}
        # The process restarts (a new engine, nothing in memory) and the receiver comes back.
        engine.dispose()
        restarted = make_engine(settings.database_url)
        try:
            with Receiver(port, sub["secret"]) as receiver:
                assert deliver(restarted, limit=10, now=utcnow() + timedelta(hours=1)) == 4
            assert deliver(restarted, limit=10, now=utcnow() + timedelta(days=1)) == 0
        finally:
            restarted.dispose()
        assert sorted(e["type"] for e in receiver.received) == sorted(kinds)
        assert len({e["id"] for e in receiver.received}) == 4
        assert receiver.bad_signatures == 0
        assert states(engine) == [("delivered", 3)] * 4

    def test_a_delivery_claimed_by_a_worker_that_died_is_sent_after_the_lease(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, opportunity: uuid.UUID
    ) -> None:
        port = free_port()
        sub = subscribe(client, auth, f"http://127.0.0.1:{port}/hook")
        with transaction(engine) as session:
            emit(session, "opportunity.synced", opportunity_id=opportunity)
        claimed = delivery._claim(engine, 10, utcnow())  # the worker claims, then dies before posting
        assert len(claimed) == 1
        assert deliver(engine, limit=10) == 0  # still leased
        with Receiver(port, sub["secret"]) as receiver:
            assert deliver(engine, limit=10, now=utcnow() + delivery.LEASE + timedelta(seconds=1)) == 1
        assert len(receiver.received) == 1

    def test_a_receiver_that_keeps_failing_ends_dead_after_the_attempt_limit(
        self,
        client: TestClient,
        auth: dict[str, str],
        engine: sa.Engine,
        opportunity: uuid.UUID,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(delivery, "MAX_ATTEMPTS", 3)
        port = free_port()
        sub = subscribe(client, auth, f"http://127.0.0.1:{port}/hook")
        with transaction(engine) as session:
            emit(session, "opportunity.closed", opportunity_id=opportunity)
        with Receiver(port, sub["secret"], status=500):
            for hours in (0, 1, 2, 3):
                deliver(engine, limit=10, now=utcnow() + timedelta(hours=hours))
        assert states(engine) == [("dead", 3)]
        dead = client.get(f"/v1/subscriptions/{sub['id']}/deliveries?state=dead", headers=auth).json()["items"]
        assert dead[0]["last_status_code"] == 500
        r = client.post(f"/v1/subscriptions/{sub['id']}/deliveries/{dead[0]['id']}/retry", headers=auth)
        assert r.status_code == 200 and r.json()["state"] == "pending"
        with Receiver(port, sub["secret"]) as receiver:
            assert deliver(engine, limit=10) == 1
        assert len(receiver.received) == 1

    def test_backoff_grows_exponentially_within_the_jitter(self) -> None:
        for attempts in range(1, 8):
            low = delivery.backoff(attempts, rng=lambda: 0.0)
            high = delivery.backoff(attempts, rng=lambda: 1.0)
            expected = min(delivery.BACKOFF_BASE * 2 ** (attempts - 1), delivery.BACKOFF_CAP)
            assert low == expected * (1 - delivery.JITTER) and high == expected * (1 + delivery.JITTER)


class TestSubscriptionsApi:
    def test_secret_is_shown_only_at_creation(
        self, client: TestClient, auth: dict[str, str], resolver: Resolver
    ) -> None:
        resolver.table["tickets.example"] = [resolver.PUBLIC]
        sub = subscribe(client, auth, "https://tickets.example/hook")
        listed = client.get("/v1/subscriptions", headers=auth).json()["items"]
        assert [s["id"] for s in listed] == [sub["id"]]
        assert "secret" not in listed[0]
        assert "secret" not in client.get(f"/v1/subscriptions/{sub['id']}", headers=auth).json()

    def test_subscriptions_need_admin(self, client: TestClient, make_key: Any) -> None:
        headers = {"Authorization": f"Bearer {make_key('signals:write', 'signals:read', 'reports:read')}"}
        r = client.post("/v1/subscriptions", json={"url": "https://x.example/h"}, headers=headers)
        assert r.status_code == 403

    def test_unknown_event_kinds_and_bad_urls_are_rejected(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.post("/v1/subscriptions", json={"url": "https://x.example", "events": ["nope"]}, headers=auth)
        assert r.status_code == 422
        r = client.post("/v1/subscriptions", json={"url": "ftp://x.example"}, headers=auth)
        assert r.status_code == 422

    def test_a_deleted_subscription_gets_nothing_more(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, opportunity: uuid.UUID
    ) -> None:
        sub = subscribe(client, auth, "http://127.0.0.1:9/x")
        with transaction(engine) as session:
            emit(session, "opportunity.synced", opportunity_id=opportunity)
        assert client.delete(f"/v1/subscriptions/{sub['id']}", headers=auth).status_code == 204
        with transaction(engine) as session:
            emit(session, "opportunity.synced", opportunity_id=opportunity)
        assert deliver(engine, limit=10) == 0
        assert states(engine) == [("dead", 0)]
