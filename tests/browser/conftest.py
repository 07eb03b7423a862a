"""Browser tests: Debian's Chromium driven by Playwright, against one live server and one browser per session.

Every request a page makes is recorded; a request to any host but the server's fails the test that made it.
Playwright's own browser download does not work offline, hence ``executable_path``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from app.core.db import make_engine, transaction
from app.core.migrate import upgrade
from app.core.settings import Settings
from app.main import create_app
from app.reports import facts
from app.web.sessions import Role, create_link_token
from tests.conftest import ALL_SCOPES, LiveServer

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
ACCOUNTS = [
    {"crm_id": "HS-101", "name": "Tailspin Health AB", "domains": ["tailspin.se"], "owner": "sara.ek@ourco.se"},
    {"crm_id": "HS-102", "name": "Nordkraft AB", "domains": ["nordkraft.se"], "owner": "sara.ek@ourco.se"},
    {"crm_id": "HS-103", "name": "Contoso Logistics AB", "domains": ["contoso.se"], "owner": "olle.ny@ourco.se"},
    {"crm_id": "HS-104", "name": "Fabrikam Oy", "domains": ["fabrikam.fi"], "owner": "olle.ny@ourco.se"},
]


class Site:
    """The live server, its database, and a key with every scope for arranging data over the API."""

    def __init__(self, url: str, engine: sa.Engine, api_key: str) -> None:
        self.url = url
        self.engine = engine
        self.api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)

    def login_link(self, email: str, role: Role) -> str:
        with transaction(self.engine) as session:
            return f"{self.url}/app/login/link?token={create_link_token(session, email, role)}"

    def signal(
        self, email: str, function: str, customer: str, title: str, body: str, amount: int | None = None
    ) -> dict[str, Any]:
        payload: dict[str, object] = {
            "contributor": {"email": email, "function": function, "team": function.title()},
            "customer": {"name": customer},
            "kind": "new_use_case",
            "title": title,
            "body": body,
            "source": {"system": "jira", "reference": uuid.uuid4().hex[:12]},
        }
        if amount is not None:
            payload["value"] = {"amount": amount, "currency": "SEK"}
        response = self.api.post("/v1/signals", json=payload)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'web.db'}"
    upgrade(url)
    app = create_app(Settings(database_url=url, log_format="text"))
    # A calibration a test stores (tests/api/helpers.steer) applies from the next signal, not 30 s later.
    app.state.ingest_config.matcher.models.recheck_seconds = 0.0
    from app.core.auth import create_key

    engine = make_engine(url)
    with transaction(engine) as session:
        _key, raw = create_key(session, "browser-tests", ALL_SCOPES)
    with LiveServer(app) as server:
        s = Site(server.url, engine, raw)
        assert s.api.post("/v1/accounts/import", json={"accounts": ACCOUNTS}).status_code == 200
        _seed_history(s)
        facts.refresh(engine, wait=True)  # what the worker's background refresh does: the reports show the history
        yield s
        s.api.close()
    engine.dispose()


def _seed_history(s: Site) -> None:
    """Signals from several functions, one opportunity won, so that every insight has rows and a chart."""
    people = [
        ("lena.holm@ourco.se", "support"),
        ("omar.said@ourco.se", "delivery"),
        ("eva.lund@ourco.se", "engineering"),
        ("nils.berg@ourco.se", "consulting"),
    ]
    topics = [
        ("Tailspin Health", "Patient portal for the new clinics", "They open four clinics and need booking online."),
        ("Contoso Logistics", "Track and trace for cold chain", "Their pharma customers ask for temperature logs."),
        ("Fabrikam", "Renewal at risk: slow support", "Their CIO complained about ticket response times."),
        ("Nordkraft", "Supplier invoices keyed by hand", "About 3,000 supplier invoices a month are typed in."),
    ]
    won = None
    for i, ((email, function), (customer, title, body)) in enumerate(zip(people, topics, strict=True)):
        signal = s.signal(email, function, customer, title, body, amount=(i + 1) * 150_000)
        won = won or signal["opportunity"]["id"]
    outcome = {"status": "won", "amount": 150000, "currency": "SEK", "note": "Signed for all four clinics."}
    assert s.api.post(f"/v1/opportunities/{won}/outcome", json=outcome).status_code == 200


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Requests:
    """Every URL the pages of a context asked for; the ones to other hosts are blocked and kept apart."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.seen: list[str] = []
        self.external: list[str] = []

    def handle(self, route: object, request: object) -> None:
        url = request.url  # type: ignore[attr-defined]
        self.seen.append(url)
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).netloc == self.host:
            route.continue_()  # type: ignore[attr-defined]
        else:
            self.external.append(url)
            route.abort()  # type: ignore[attr-defined]


@pytest.fixture
def requests_seen(site: Site) -> Requests:
    return Requests(urlsplit(site.url).netloc)


@pytest.fixture
def context(browser: object, site: Site, requests_seen: Requests) -> Iterator[object]:
    """A fresh browser context (own cookies); it fails the test if any page asked for another host."""
    ctx = browser.new_context(viewport=VIEWPORT, accept_downloads=True, bypass_csp=False)  # type: ignore[attr-defined]
    ctx.set_default_timeout(15_000)
    ctx.route("**/*", requests_seen.handle)
    yield ctx
    ctx.close()
    assert requests_seen.external == [], f"requests left the host: {requests_seen.external}"


@pytest.fixture
def page(context: object) -> object:
    return context.new_page()  # type: ignore[attr-defined]


def sign_in(page: object, site: Site, email: str, role: Role) -> None:
    page.goto(site.login_link(email, role))  # type: ignore[attr-defined]
    assert urlsplit(page.url).path == "/app", page.url  # type: ignore[attr-defined]


def axe_violations(page: object) -> list[dict[str, object]]:
    """Serious and critical axe-core violations on the page as it is now (axe injected from the vendored file)."""
    page.evaluate(AXE.read_text())  # type: ignore[attr-defined]  # evaluate() is not subject to the page's CSP
    result = page.evaluate(  # type: ignore[attr-defined]
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]
