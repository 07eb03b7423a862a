"""Issue 11 item 3: who may call what, on whose data. Every API operation by four kinds of key, on PostgreSQL.

The kinds: an unbound admin key; an unbound key with limited scopes (signals:read, signals:write); and a key bound
to Ann (signals:read, signals:write, reports:read, contributors:write) asking about Ann's data ("bound own") and
about Bob's ("bound other"). Unbound keys are asked about Bob's data. Others' objects answer 404, never 403, so a
bound key cannot learn that they exist; a missing scope answers 403. Every answer to the bound key is also checked
for Bob's e-mail and his signal ids, so a list or a detail that leaks him fails even with a 200.

The list of operations comes from the app itself: an operation without a row in ``CASES`` (or ``PUBLIC``) fails
``test_every_operation_has_a_row``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import select

from app.core.db import transaction
from app.core.settings import Settings
from app.notifications import signing
from app.notifications.models import NotificationDelivery, Subscription
from app.web.sessions import Role
from tests.api.helpers import row_counts
from tests.conftest import BACKENDS, KeyFactory, _empty, signal_body
from tests.web.helpers import LOOPBACK, sign_in

# Probes and signed vendor callbacks take no API key (tests/api/test_auth.py checks them as such).
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/v1/webhooks/{crm}"),
    ("POST", "/capture/{name}"),
    ("POST", "/capture/{name}/{route}"),
}
LIMITED = ("signals:read", "signals:write")
PERSONAL = ("signals:read", "signals:write", "reports:read", "contributors:write")
COLUMNS = ("admin", "limited", "bound_own", "bound_other")


# A read (GET) changes nothing, so the read rows share one world per database; a write gets a fresh one.
_SHARED: dict[str, World] = {}


def _reads(request: pytest.FixtureRequest) -> bool:
    case = getattr(request.node, "callspec", None) and request.node.callspec.params.get("case")
    return isinstance(case, Case) and case.method == "GET"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, log_format="text", allow_insecure_webhooks=True)


@pytest.fixture(params=BACKENDS[-1:])
def db_url(request: pytest.FixtureRequest) -> str:
    """PostgreSQL when TEST_DATABASE_URL is set (CI), else SQLite: the matrix runs once, on the production store."""
    url: str = request.getfixturevalue(f"_{request.param}_url")
    if not (_reads(request) and url in _SHARED):
        _SHARED.pop(url, None)
        _empty(url)
    return url


@dataclass
class Person:
    email: str
    id: str = ""
    signal: str = ""  # the first of two signals, in ``opp``
    second: str = ""  # the second, in ``opp`` too (detachable)
    review: str = ""  # a signal waiting for review
    opp: str = ""
    signals: list[str] = field(default_factory=list)


@dataclass
class World:
    client: TestClient
    engine: sa.Engine
    admin: dict[str, str]
    ann: Person
    bob: Person
    subscription: str = ""
    delivery: str = ""
    rule: str = ""

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self.client.post("/v1/signals", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        answer: dict[str, Any] = r.json()
        return answer

    def detached(self, who: Person) -> str:
        """A second opportunity of ``who``'s account, credited to them alone (for merges)."""
        r = self.client.post(f"/v1/signals/{who.second}/detach", headers=self.admin)
        assert r.status_code == 200, r.text
        return str(r.json()["opportunity"]["id"])


def _person(world: World, who: Person, crm_id: str, name: str) -> None:
    contributor = {"email": who.email, "name": name, "function": "support", "team": "L2"}
    first = world.post(
        signal_body(contributor=contributor, customer={"crm_account_id": crm_id}, title=f"{name} sees re-keying")
    )
    who.id, who.signal, who.opp = first["contributor"]["id"], first["id"], first["opportunity"]["id"]
    second = world.post(
        signal_body(
            contributor=contributor,
            customer={"crm_account_id": crm_id},
            kind="expansion",
            title=f"{name} hears they want more seats",
            body="They asked for forty more seats next quarter.",
            opportunity_ref=who.opp,
        )
    )
    review = world.post(signal_body(contributor=contributor, customer={"name": f"Zzyzx Unknown {name} Holding"}))
    assert review["status"] == "needs_review"
    who.second, who.review = second["id"], review["id"]
    who.signals = [who.signal, who.second, who.review]


@pytest.fixture
def world(
    request: pytest.FixtureRequest, db_url: str, client: TestClient, engine: sa.Engine, make_key: KeyFactory
) -> World:
    shared = _SHARED.get(db_url) if _reads(request) else None
    if shared is not None:
        return World(
            client, engine, shared.admin, shared.ann, shared.bob, shared.subscription, shared.delivery, shared.rule
        )
    w = _build(client, engine, make_key)
    if _reads(request):
        _SHARED[db_url] = w
    return w


def _build(client: TestClient, engine: sa.Engine, make_key: KeyFactory) -> World:
    admin = {"Authorization": f"Bearer {make_key('admin')}"}
    accounts = [
        {"crm_id": "ACME-1", "name": "Acme Logistics", "domains": ["acme.example"], "owner": "sara@ourco.se"},
        {"crm_id": "BETA-1", "name": "Beta Retail", "domains": ["beta.example"], "owner": "sara@ourco.se"},
    ]
    assert client.post("/v1/accounts/import", json={"accounts": accounts}, headers=admin).status_code == 200
    w = World(client, engine, admin, Person("ann@ourco.se"), Person("bob@ourco.se"))
    with transaction(engine) as session:
        # Stored directly: the outbound guard (tested in tests/integration/test_notifications.py) is not the point.
        sub = Subscription(url="https://hooks.ourco.example/x", event_kinds=[], secret=signing.new_secret())
        session.add(sub)
        session.flush()
        w.subscription = str(sub.id)
    # The routing rule comes first, so every opportunity opened below gets a route.
    rule = {"name": "all", "queue": "inside-sales", "sla_hours": 24}
    r = client.post("/v1/routing/rules", json=rule, headers=admin)
    assert r.status_code == 201, r.text
    w.rule = r.json()["id"]
    _person(w, w.ann, "ACME-1", "Ann")
    _person(w, w.bob, "BETA-1", "Bob")
    # Bob also reported into Ann's opportunity: she sees that he did (a count), never his signal.
    bob_in_ann = w.post(
        signal_body(
            contributor={"email": w.bob.email, "name": "Bob", "function": "support"},
            customer={"crm_account_id": "ACME-1"},
            title="Bob also saw the re-keying",
            opportunity_ref=w.ann.opp,
        )
    )
    w.bob.signals.append(bob_in_ann["id"])
    with transaction(engine) as session:
        delivery = session.exec(select(NotificationDelivery)).first()
        assert delivery is not None
        w.delivery = str(delivery.id)
    return w


Req = tuple[str, dict[str, Any]]  # url (with query), extra request kwargs (json=...)
Build = Callable[[World, Person], Req]


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    build: Build
    # Expected status for (admin, limited, bound_own, bound_other).
    expect: tuple[int, int, int, int]


def get(url: Callable[[World, Person], str]) -> Build:
    return lambda w, p: (url(w, p), {})


def send(url: Callable[[World, Person], str], body: Callable[[World, Person], Any]) -> Build:
    return lambda w, p: (url(w, p), {"json": body(w, p)})


def new_signal(w: World, p: Person) -> dict[str, Any]:
    return signal_body(
        contributor={"email": p.email},
        customer={"crm_account_id": "ACME-1"},
        kind="changed_need",
        title="They are moving to a new warehouse system",
        body="Their logistics lead said the warehouse system is replaced in spring; our integration must follow.",
    )


ANYONE = lambda w, p: ""  # noqa: E731  (data-independent operation: own and other are the same request)
REPORT_PERIOD = "from=2020-01-01&to=2022-12-31"


def report_url(name: str) -> Callable[[World, Person], str]:
    return lambda w, p: f"/v1/reports/{name}?{REPORT_PERIOD}"


CASES: list[Case] = [
    # signals
    Case("POST", "/v1/signals", send(lambda w, p: "/v1/signals", new_signal), (201, 403, 201, 403)),
    Case(
        "POST",
        "/v1/signals/batch",
        send(lambda w, p: "/v1/signals/batch", lambda w, p: {"signals": [new_signal(w, p)]}),
        (200, 403, 200, 403),
    ),
    Case("GET", "/v1/signals/{signal_id}", get(lambda w, p: f"/v1/signals/{p.signal}"), (200, 200, 200, 404)),
    Case("GET", "/v1/signals", get(lambda w, p: f"/v1/signals?contributor={p.email}"), (200, 200, 200, 404)),
    Case(
        "POST",
        "/v1/signals/{signal_id}/account",
        send(lambda w, p: f"/v1/signals/{p.review}/account", lambda w, p: {"account": "ACME-1"}),
        (200, 200, 200, 404),
    ),
    Case(
        "POST",
        "/v1/signals/{signal_id}/detach",
        get(lambda w, p: f"/v1/signals/{p.second}/detach"),
        (200, 200, 200, 404),
    ),
    Case("GET", "/v1/review/attribution", get(lambda w, p: "/v1/review/attribution"), (200, 200, 200, 200)),
    Case("GET", "/v1/review/duplicates", get(lambda w, p: "/v1/review/duplicates"), (200, 200, 200, 200)),
    # Not a candidate: authorised callers reach the rule (409); others' signals are 404 before it.
    Case(
        "POST",
        "/v1/review/duplicates/{signal_id}/accept",
        send(lambda w, p: f"/v1/review/duplicates/{p.signal}/accept", lambda w, p: {"opportunity_id": p.opp}),
        (409, 409, 409, 404),
    ),
    Case(
        "POST",
        "/v1/review/duplicates/{signal_id}/reject",
        send(lambda w, p: f"/v1/review/duplicates/{p.signal}/reject", lambda w, p: {"opportunity_id": p.opp}),
        (409, 409, 409, 404),
    ),
    # accounts: the directory has its own scopes
    Case(
        "POST",
        "/v1/accounts/import",
        send(lambda w, p: "/v1/accounts/import", lambda w, p: {"accounts": [{"crm_id": "C-9", "name": "Gamma AB"}]}),
        (200, 403, 403, 403),
    ),
    Case("GET", "/v1/accounts", get(lambda w, p: "/v1/accounts?q=acme"), (200, 403, 403, 403)),
    Case("GET", "/v1/accounts/{ref}", get(lambda w, p: "/v1/accounts/ACME-1"), (200, 403, 403, 403)),
    # opportunities
    Case(
        "GET", "/v1/opportunities", get(lambda w, p: f"/v1/opportunities?contributor={p.email}"), (200, 200, 200, 404)
    ),
    Case(
        "GET",
        "/v1/opportunities/{opportunity_id}",
        get(lambda w, p: f"/v1/opportunities/{p.opp}"),
        (200, 200, 200, 404),
    ),
    Case(
        "POST",
        "/v1/opportunities/{opportunity_id}/merge",
        lambda w, p: (f"/v1/opportunities/{p.opp}/merge", {"json": {"opportunity_id": w.detached(p)}}),
        (200, 200, 200, 404),
    ),
    Case(
        "POST",
        "/v1/opportunities/{opportunity_id}/outcome",
        send(lambda w, p: f"/v1/opportunities/{p.opp}/outcome", lambda w, p: {"status": "won", "note": "Signed"}),
        (200, 200, 200, 404),
    ),
    # contributors
    Case("GET", "/v1/contributors", get(lambda w, p: "/v1/contributors"), (200, 200, 200, 200)),
    Case("GET", "/v1/contributors/{ref}", get(lambda w, p: f"/v1/contributors/{p.email}"), (200, 200, 200, 404)),
    Case(
        "GET",
        "/v1/contributors/{ref}/signals",
        get(lambda w, p: f"/v1/contributors/{p.id}/signals"),
        (200, 200, 200, 404),
    ),
    Case(
        "PATCH",
        "/v1/contributors/{ref}",
        send(lambda w, p: f"/v1/contributors/{p.id}", lambda w, p: {"name": "Renamed", "team": "L3"}),
        (200, 403, 200, 404),
    ),
    Case("DELETE", "/v1/contributors/{ref}", get(lambda w, p: f"/v1/contributors/{p.id}"), (204, 403, 403, 403)),
    # an unbound key has no feed of its own
    Case("GET", "/v1/me/signals", get(lambda w, p: "/v1/me/signals"), (404, 404, 200, 200)),
    # reports: company-wide ones need an unbound key (or reports:read:all); a person's statement is theirs
    *[
        Case(
            "GET",
            f"/v1/reports/{name}",
            get(report_url(name)),
            (200, 403, 403, 403),
        )
        for name in ("contributions", "credit", "participation", "concentration", "ageing", "adoption")
    ],
    Case("GET", "/v1/reports/staff-counts", get(lambda w, p: "/v1/reports/staff-counts"), (200, 403, 403, 403)),
    Case(
        "PUT",
        "/v1/reports/staff-counts",
        send(lambda w, p: "/v1/reports/staff-counts", lambda w, p: {"dimension": "function", "counts": {"support": 9}}),
        (200, 403, 403, 403),
    ),
    Case(
        "GET",
        "/v1/reports/recognition",
        get(lambda w, p: f"/v1/reports/recognition?contributor={p.email}&{REPORT_PERIOD}"),
        (200, 403, 200, 404),
    ),
    Case(
        "GET",
        "/v1/reports/recognition/team",
        get(lambda w, p: f"/v1/reports/recognition/team?team=L2&{REPORT_PERIOD}"),
        (200, 403, 403, 403),
    ),
    # mandates and routing: policy, not personal data
    Case("GET", "/v1/mandates", get(lambda w, p: "/v1/mandates"), (200, 200, 200, 200)),
    Case(
        "PUT",
        "/v1/mandates",
        send(lambda w, p: "/v1/mandates", lambda w, p: {"rules": [{"level": "report"}]}),
        (200, 403, 403, 403),
    ),
    Case(
        "GET",
        "/v1/mandates/resolve",
        get(lambda w, p: "/v1/mandates/resolve?function=support&kind=inefficiency"),
        (200, 200, 200, 200),
    ),
    Case("GET", "/v1/routing/rules", get(lambda w, p: "/v1/routing/rules"), (200, 200, 200, 200)),
    Case(
        "POST",
        "/v1/routing/rules",
        send(lambda w, p: "/v1/routing/rules", lambda w, p: {"name": "x", "queue": "q", "sla_hours": 4}),
        (201, 403, 403, 403),
    ),
    Case("GET", "/v1/routing/rules/{rule_id}", get(lambda w, p: f"/v1/routing/rules/{w.rule}"), (200, 200, 200, 200)),
    Case(
        "PUT",
        "/v1/routing/rules/{rule_id}",
        send(lambda w, p: f"/v1/routing/rules/{w.rule}", lambda w, p: {"name": "y", "queue": "q", "sla_hours": 8}),
        (200, 403, 403, 403),
    ),
    Case(
        "DELETE", "/v1/routing/rules/{rule_id}", get(lambda w, p: f"/v1/routing/rules/{w.rule}"), (204, 403, 403, 403)
    ),
    Case(
        "GET",
        "/v1/routing/opportunities/{opportunity_id}",
        get(lambda w, p: f"/v1/routing/opportunities/{p.opp}"),
        (200, 200, 200, 404),
    ),
    # outbound subscriptions: administrators only
    Case(
        "POST",
        "/v1/subscriptions",
        # loopback over http passes the outbound guard with the development switch (``settings`` below)
        send(lambda w, p: "/v1/subscriptions", lambda w, p: {"url": "http://127.0.0.1:9/hook"}),
        (201, 403, 403, 403),
    ),
    Case("GET", "/v1/subscriptions", get(lambda w, p: "/v1/subscriptions"), (200, 403, 403, 403)),
    Case(
        "GET",
        "/v1/subscriptions/{subscription_id}",
        get(lambda w, p: f"/v1/subscriptions/{w.subscription}"),
        (200, 403, 403, 403),
    ),
    Case(
        "DELETE",
        "/v1/subscriptions/{subscription_id}",
        get(lambda w, p: f"/v1/subscriptions/{w.subscription}"),
        (204, 403, 403, 403),
    ),
    Case(
        "GET",
        "/v1/subscriptions/{subscription_id}/deliveries",
        get(lambda w, p: f"/v1/subscriptions/{w.subscription}/deliveries"),
        (200, 403, 403, 403),
    ),
    Case(
        "POST",
        "/v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/retry",
        get(lambda w, p: f"/v1/subscriptions/{w.subscription}/deliveries/{w.delivery}/retry"),
        (200, 403, 403, 403),
    ),
    # CRM sync: its own scopes
    Case("GET", "/v1/sync/status", get(lambda w, p: "/v1/sync/status"), (200, 403, 403, 403)),
    Case(
        "POST",
        "/v1/sync/dead/{job_id}/retry",
        get(lambda w, p: f"/v1/sync/dead/{uuid.uuid4()}/retry"),
        (404, 403, 403, 403),  # admin passes the scope check and finds no such dead job
    ),
]


def operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves outside the web pages (/app, covered by tests/web) and the docs."""
    found = set()
    for route in iter_route_contexts(list(app.routes)):
        path = route.path or ""
        if not route.methods or path.startswith("/app") or path in ("/docs", "/redoc", "/openapi.json"):
            continue
        found |= {(m, path) for m in route.methods if m != "HEAD"}
    return found


def test_every_operation_has_a_row(app: FastAPI) -> None:
    rows = [(c.method, c.path) for c in CASES]
    assert len(rows) == len(set(rows)), "an operation has two rows"
    assert operations(app) - PUBLIC == set(rows), "add the new operation to CASES (or PUBLIC, with the reason)"


@pytest.fixture
def keys(make_key: KeyFactory, world: World) -> dict[str, dict[str, str]]:
    def bearer(raw: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {raw}"}

    bound = bearer(make_key(*PERSONAL, contributor_id=uuid.UUID(world.ann.id)))
    return {
        "admin": world.admin,
        "limited": bearer(make_key(*LIMITED)),
        "bound_own": bound,
        "bound_other": bound,
    }


# Reads first: they share one world (see ``_SHARED``).
ORDERED = sorted(CASES, key=lambda c: c.method != "GET")


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("case", ORDERED, ids=[f"{c.method} {c.path}" for c in ORDERED])
def test_matrix(world: World, keys: dict[str, dict[str, str]], case: Case, column: str) -> None:
    whose = world.ann if column == "bound_own" else world.bob
    url, kwargs = case.build(world, whose)
    expected = case.expect[COLUMNS.index(column)]
    before = row_counts(world.engine) if expected in (403, 404) else None
    r = world.client.request(case.method, url, headers=keys[column], **kwargs)
    assert r.status_code == expected, f"{case.method} {url} as {column}: {r.status_code} {r.text[:300]}"
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")
    if before is not None:
        assert row_counts(world.engine) == before, "a refused request stored something"
    if column.startswith("bound") and r.status_code < 400:
        leaked = [x for x in (world.bob.email, *world.bob.signals) if x in r.text]
        assert leaked == [], f"{case.method} {url} shows Bob's data to Ann's key: {leaked} in {r.text}"


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


class TestWhatABoundKeySees:
    def test_an_opportunity_shows_colleagues_signals_only_as_a_count(self, world: World, make_key: KeyFactory) -> None:
        ann = bearer(make_key(*PERSONAL, contributor_id=uuid.UUID(world.ann.id)))
        body = world.client.get(f"/v1/opportunities/{world.ann.opp}", headers=ann).json()
        assert {s["id"] for s in body["signals"]} == {world.ann.signal, world.ann.second}
        assert body["other_signals"] == 1 and body["signal_count"] == 3
        bob = next(c for c in body["contributors"] if c["contributor_id"] == world.bob.id)
        assert (bob["name"], bob["email"]) == ("Bob", None)  # a colleague, as in the feed
        full = world.client.get(f"/v1/opportunities/{world.ann.opp}", headers=world.admin).json()
        assert len(full["signals"]) == 3 and full["other_signals"] == 0

    def test_company_wide_reports_need_reports_read_all(self, world: World, make_key: KeyFactory) -> None:
        key = bearer(make_key("reports:read", "reports:read:all", contributor_id=uuid.UUID(world.ann.id)))
        assert world.client.get(f"/v1/reports/credit?{REPORT_PERIOD}", headers=key).status_code == 200
        plain = bearer(make_key("reports:read", contributor_id=uuid.UUID(world.ann.id)))
        r = world.client.get(f"/v1/reports/credit?{REPORT_PERIOD}", headers=plain)
        assert r.status_code == 403 and r.json()["required_scope"] == "reports:read:all"


class TestPostingInSomeonesName:
    def test_a_bound_key_posting_as_another_is_refused_naming_the_field(
        self, world: World, make_key: KeyFactory
    ) -> None:
        ann = bearer(make_key(*PERSONAL, contributor_id=uuid.UUID(world.ann.id)))
        before = row_counts(world.engine)
        r = world.client.post("/v1/signals", json=new_signal(world, world.bob), headers=ann)
        assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"] == "contributor.email"
        batch = {"signals": [new_signal(world, world.ann), new_signal(world, world.bob)]}
        r = world.client.post("/v1/signals/batch", json=batch, headers=ann)
        assert r.status_code == 403
        assert [e["field"] for e in r.json()["errors"]] == ["signals.1.contributor.email"]
        assert row_counts(world.engine) == before

    def test_an_unbound_key_needs_signals_write_any_even_for_a_new_person(
        self, world: World, make_key: KeyFactory
    ) -> None:
        stranger = Person("new.person@ourco.se")
        r = world.client.post("/v1/signals", json=new_signal(world, stranger), headers=bearer(make_key(*LIMITED)))
        assert r.status_code == 403 and r.json()["required_scope"] == "signals:write:any"
        r = world.client.post(
            "/v1/signals", json=new_signal(world, stranger), headers=bearer(make_key("signals:write:any"))
        )
        assert r.status_code == 201, r.text

    def test_a_post_never_renames_or_moves_a_known_person_only_contributors_write_does(
        self, world: World, make_key: KeyFactory
    ) -> None:
        body = new_signal(world, world.bob)
        body["contributor"] = {"email": world.bob.email, "name": "Mallory", "team": "Elsewhere"}
        assert world.client.post("/v1/signals", json=body, headers=world.admin).status_code == 201
        person = world.client.get(f"/v1/contributors/{world.bob.id}", headers=world.admin).json()
        assert (person["name"], person["team"]) == ("Bob", "L2")
        editor = bearer(make_key("contributors:write"))
        r = world.client.patch(
            f"/v1/contributors/{world.bob.id}", json={"name": "Bob B.", "team": "L3"}, headers=editor
        )
        assert r.status_code == 200, r.text
        assert (r.json()["name"], r.json()["team"]) == ("Bob B.", "L3")

    @pytest.mark.parametrize(
        ("body", "field"), [({}, "body"), ({"function": "astronaut"}, "function"), ({"name": ""}, "name")]
    )
    def test_a_bad_update_names_the_field_and_changes_nothing(
        self, world: World, body: dict[str, str], field: str
    ) -> None:
        before = world.client.get(f"/v1/contributors/{world.bob.id}", headers=world.admin).json()
        r = world.client.patch(f"/v1/contributors/{world.bob.id}", json=body, headers=world.admin)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in r.json()["errors"]}
        assert world.client.get(f"/v1/contributors/{world.bob.id}", headers=world.admin).json() == before


class TestTheWebAppUsesTheSameRules:
    def test_a_contributor_sees_own_opportunity_without_colleagues_signals_and_not_others(self, world: World) -> None:
        web = TestClient(world.client.app, base_url=LOOPBACK, raise_server_exceptions=False)
        sign_in(web, world.engine, world.ann.email, "contributor")
        page = web.get(f"/app/opportunities/{world.ann.opp}")
        assert page.status_code == 200
        assert "Ann sees re-keying" in page.text and "Bob also saw the re-keying" not in page.text
        assert "1 signal from colleagues" in page.text and world.bob.email not in page.text
        assert web.get(f"/app/opportunities/{world.bob.opp}").status_code == 404

    @pytest.mark.parametrize(("role", "status"), [("contributor", 403), ("analyst", 200), ("seller", 403)])
    def test_insights_need_company_wide_reports(self, world: World, role: Role, status: int) -> None:
        web = TestClient(world.client.app, base_url=LOOPBACK, raise_server_exceptions=False)
        sign_in(web, world.engine, world.ann.email, role)
        assert web.get("/app/insights/credit-by-person.csv").status_code == status
