"""Subscriptions and their deliveries cannot be pointed at internal addresses (server-side request forgery).

Creation refuses a forbidden URL with 422 naming ``url`` and stores nothing; delivery checks the URL and resolves its
host again, connects to the address it checked, and does not follow redirects. Name resolution is the test's own
(the ``resolver`` fixture); the HTTP client is the real one, and the receivers are real servers on loopback.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.accounts.models import Account
from app.core.db import transaction
from app.core.settings import Settings
from app.core.timeutil import utcnow
from app.main import create_app
from app.notifications import delivery
from app.notifications.events import emit
from app.opportunities.models import Opportunity
from tests.api.helpers import row_counts
from tests.conftest import Resolver

FORBIDDEN = [
    "https://127.0.0.1/hook",
    "https://2130706433/hook",
    "https://0x7f000001/hook",
    "https://0177.0.0.1/hook",
    "https://127.1/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://localhost/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.0.10/hook",
    "https://[fd12::1]/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://2852039166/latest/meta-data/",
    "https://[fe80::1]/hook",
    "https://[fd00:ec2::254]/hook",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://224.0.0.1/hook",
    "https://240.0.0.1/hook",
    "https://0.0.0.0/hook",
    "https://[::]/hook",
    "https://100.64.0.1/hook",
    "http://hooks.example.com/hook",
    "https://nowhere.example.com/hook",
]


class Recorder:
    """A loopback HTTP receiver that records each request's path and Host header and answers ``status``."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, self.headers["Host"]))
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


@pytest.fixture
def local_client(db_url: str) -> Iterator[TestClient]:
    """The app with SIGNAL_PIPELINE_ALLOW_INSECURE_WEBHOOKS=true (loopback receivers over http)."""
    app = create_app(Settings(database_url=db_url, log_format="text", allow_insecure_webhooks=True))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def an_event(engine: sa.Engine) -> None:
    with transaction(engine) as session:
        account = Account(crm_id=f"c-{uuid.uuid4().hex[:6]}", name="Acme AB")
        session.add(account)
        session.flush()
        opp = Opportunity(account_id=account.id, title="More seats", first_seen_at=utcnow(), last_seen_at=utcnow())
        session.add(opp)
        session.flush()
        emit(session, "opportunity.synced", opportunity_id=opp.id)


def last_attempt(client: TestClient, auth: dict[str, str], subscription_id: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = client.get(f"/v1/subscriptions/{subscription_id}/deliveries", headers=auth).json()[
        "items"
    ]
    assert len(items) == 1
    return items[0]


class TestCreation:
    @pytest.mark.parametrize("url", FORBIDDEN)
    def test_a_forbidden_url_is_422_naming_url_and_nothing_is_stored(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, resolver: Resolver, url: str
    ) -> None:
        resolver.table.update({"hooks.example.com": [resolver.PUBLIC], "localhost": ["127.0.0.1", "::1"]})
        before = row_counts(engine)
        r = client.post("/v1/subscriptions", json={"url": url}, headers=auth)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in r.json()["errors"]] == ["url"]
        assert row_counts(engine) == before

    def test_credentials_in_the_url_are_refused_and_never_shown(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, resolver: Resolver
    ) -> None:
        resolver.table["hooks.example.com"] = [resolver.PUBLIC]
        before = row_counts(engine)
        r = client.post("/v1/subscriptions", json={"url": "https://bot:hunter2@hooks.example.com/in"}, headers=auth)
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "url" and r.json()["errors"][0]["code"] == "credentials"
        assert "hunter2" not in r.text
        assert row_counts(engine) == before

    def test_a_public_https_url_is_accepted(self, client: TestClient, auth: dict[str, str], resolver: Resolver) -> None:
        resolver.table["hooks.example.com"] = [resolver.PUBLIC]
        r = client.post("/v1/subscriptions", json={"url": "https://hooks.example.com/in"}, headers=auth)
        assert r.status_code == 201, r.text
        assert resolver.calls == ["hooks.example.com"]

    def test_loopback_over_http_only_when_insecure_webhooks_are_allowed(
        self, client: TestClient, local_client: TestClient, auth: dict[str, str]
    ) -> None:
        body = {"url": "http://127.0.0.1:9/hook"}
        assert client.post("/v1/subscriptions", json=body, headers=auth).status_code == 422
        assert local_client.post("/v1/subscriptions", json=body, headers=auth).status_code == 201
        r = local_client.post("/v1/subscriptions", json={"url": "http://10.0.0.1/hook"}, headers=auth)
        assert r.status_code == 422


class TestDelivery:
    def test_a_host_that_now_resolves_to_loopback_is_not_called(
        self,
        client: TestClient,
        auth: dict[str, str],
        engine: sa.Engine,
        resolver: Resolver,
        recorder: Recorder,
    ) -> None:
        resolver.table["hooks.example.com"] = [resolver.PUBLIC]
        url = f"https://hooks.example.com:{recorder.port}/hook"
        sub = client.post("/v1/subscriptions", json={"url": url}, headers=auth).json()
        resolver.table["hooks.example.com"] = ["127.0.0.1"]  # DNS rebinding: a receiver is listening there
        an_event(engine)
        assert delivery.deliver_due(engine, limit=10) == 1
        assert recorder.requests == []
        attempt = last_attempt(client, auth, sub["id"])
        assert (attempt["state"], attempt["last_error"]) == ("retrying", "refused: host_not_allowed")
        assert resolver.calls == ["hooks.example.com", "hooks.example.com"]

    @pytest.mark.parametrize("now", [["10.0.0.5"], ["169.254.169.254"], [Resolver.PUBLIC, "192.168.1.1"]])
    def test_a_host_that_now_resolves_to_an_internal_address_is_refused_before_connecting(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, resolver: Resolver, now: list[str]
    ) -> None:
        resolver.table["hooks.example.com"] = [resolver.PUBLIC]
        sub = client.post("/v1/subscriptions", json={"url": "https://hooks.example.com/hook"}, headers=auth).json()
        resolver.table["hooks.example.com"] = now
        an_event(engine)
        assert delivery.deliver_due(engine, limit=10) == 1
        assert last_attempt(client, auth, sub["id"])["last_error"] == "refused: host_not_allowed"

    def test_the_request_goes_to_the_checked_address_with_the_urls_host(
        self, local_client: TestClient, auth: dict[str, str], engine: sa.Engine, resolver: Resolver, recorder: Recorder
    ) -> None:
        # hooks.test exists only in the test's resolver: the request can only have reached the receiver through
        # the address the guard checked, not through a second lookup by the HTTP client.
        resolver.table["hooks.test"] = ["127.0.0.1"]
        url = f"http://hooks.test:{recorder.port}/hook"
        sub = local_client.post("/v1/subscriptions", json={"url": url}, headers=auth).json()
        an_event(engine)
        assert delivery.deliver_due(engine, limit=10, policy=Settings(allow_insecure_webhooks=True).webhook_policy)
        assert recorder.requests == [("/hook", f"hooks.test:{recorder.port}")]
        assert last_attempt(local_client, auth, sub["id"])["state"] == "delivered"

    def test_redirects_are_not_followed(
        self, local_client: TestClient, auth: dict[str, str], engine: sa.Engine, recorder: Recorder
    ) -> None:
        redirecting = Recorder(307, {"Location": f"http://127.0.0.1:{recorder.port}/elsewhere"})
        try:
            url = f"http://127.0.0.1:{redirecting.port}/hook"
            sub = local_client.post("/v1/subscriptions", json={"url": url}, headers=auth).json()
            an_event(engine)
            assert delivery.deliver_due(engine, limit=10, policy=Settings(allow_insecure_webhooks=True).webhook_policy)
        finally:
            redirecting.close()
        assert len(redirecting.requests) == 1 and recorder.requests == []
        assert last_attempt(local_client, auth, sub["id"])["last_error"] == "HTTP 307"
