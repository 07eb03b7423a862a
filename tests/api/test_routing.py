"""Routing rules (/v1/routing/rules), the route each new opportunity gets, and the escalation sweep."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.core.db import transaction
from app.core.timeutil import utcnow
from app.notifications.models import NotificationEvent, Subscription
from app.routing.models import OpportunityRoute
from app.routing.sweep import sweep
from tests.api.helpers import reports_current, row_counts
from tests.conftest import KeyFactory, signal_body

ACCOUNTS = [
    {"crm_id": "A-1", "name": "Nordkraft AB", "domains": ["nordkraft.se"], "segment": "enterprise"},
    {"crm_id": "A-2", "name": "Tailspin Health", "domains": ["tailspin.example"], "segment": "public"},
]


def rule(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "catch-all", "queue": "sales-desk", "sla_hours": 48}
    body.update(overrides)
    return body


@pytest.fixture
def accounts(client: TestClient, auth: dict[str, str]) -> None:
    r = client.post("/v1/accounts/import", json={"accounts": ACCOUNTS}, headers=auth)
    assert r.status_code == 200, r.text


def report(
    client: TestClient,
    auth: dict[str, str],
    *,
    customer: str = "Nordkraft AB",
    domain: str = "nordkraft.se",
    function: str = "support",
    kind: str = "inefficiency",
    value: int | None = None,
    title: str | None = None,
) -> str:
    """Post a signal about a known account; returns its opportunity id."""
    body = signal_body(kind=kind, customer={"name": customer, "domain": domain})
    body["contributor"] = {"email": f"{function}.{uuid.uuid4().hex[:6]}@ourco.se", "function": function}
    if title:
        body["title"], body["body"] = title, title + " (details)"
    if value is not None:
        body["value"] = {"amount": value, "currency": "SEK"}
    r = client.post("/v1/signals", json=body, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["opportunity"] is not None, r.json()["attribution"]
    return str(r.json()["opportunity"]["id"])


def route(client: TestClient, auth: dict[str, str], opportunity_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/routing/opportunities/{opportunity_id}", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


class TestRules:
    def test_crud(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.post("/v1/routing/rules", json=rule(kinds=["expansion"], functions=["delivery"]), headers=auth)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert client.get(f"/v1/routing/rules/{rid}", headers=auth).json()["kinds"] == ["expansion"]
        r = client.put(f"/v1/routing/rules/{rid}", json=rule(name="renamed", owner="eva@ourco.se"), headers=auth)
        assert r.status_code == 200 and r.json()["name"] == "renamed" and r.json()["kinds"] == []
        assert [x["name"] for x in client.get("/v1/routing/rules", headers=auth).json()] == ["renamed"]
        assert client.delete(f"/v1/routing/rules/{rid}", headers=auth).status_code == 204
        assert client.get(f"/v1/routing/rules/{rid}", headers=auth).status_code == 404

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (rule(kinds=["gossip"]), "kinds.0"),
            (rule(functions=["astrology"]), "functions.0"),
            (rule(sla_hours=0), "sla_hours"),
            (rule(sla_hours=10_000), "sla_hours"),
            (rule(min_amount="10"), "body"),  # an amount needs its currency
            (rule(queue=None), "body"),  # nobody to react
            (rule(currency="XXQ", min_amount="1"), "currency"),
            (rule(name="x" * 101), "name"),
            (rule(segments=["s"] * 51), "segments"),
            (rule(colour="blue"), "colour"),
        ],
    )
    def test_bad_rules_are_problems_naming_the_field_and_store_nothing(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, body: dict[str, Any], field: str
    ) -> None:
        before = row_counts(engine)
        r = client.post("/v1/routing/rules", json=body, headers=auth)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in r.json()["errors"]]
        assert row_counts(engine) == before

    def test_writing_rules_needs_admin(self, client: TestClient, make_key: KeyFactory) -> None:
        headers = {"Authorization": f"Bearer {make_key('signals:read', 'signals:write', 'reports:read')}"}
        assert client.post("/v1/routing/rules", json=rule(), headers=headers).status_code == 403
        assert client.get("/v1/routing/rules", headers=headers).status_code == 200


@pytest.mark.usefixtures("accounts")
class TestRouting:
    def test_the_first_matching_rule_applies_and_is_recorded(self, client: TestClient, auth: dict[str, str]) -> None:
        for body in (
            rule(
                name="big enterprise",
                segments=["enterprise"],
                min_amount="100000",
                currency="SEK",
                sla_hours=4,
                owner="kam@ourco.se",
                position=10,
            ),
            rule(name="enterprise", segments=["enterprise"], queue="enterprise-desk", sla_hours=24, position=20),
            rule(name="renewal risk", kinds=["renewal_risk"], queue="retention", sla_hours=8, position=5, active=False),
            rule(name="everything", queue="sales-desk", sla_hours=72, position=99),
        ):
            assert client.post("/v1/routing/rules", json=body, headers=auth).status_code == 201
        big = report(client, auth, value=500_000, title="Consolidate all invoice flows")
        small = report(client, auth, value=5_000, kind="renewal_risk", title="They may not renew the support deal")
        public = report(client, auth, customer="Tailspin Health", domain="tailspin.example", title="Clinic scheduling")
        assert len({big, small, public}) == 3
        got = {k: route(client, auth, v) for k, v in {"big": big, "small": small, "public": public}.items()}
        assert (got["big"]["rule_name"], got["big"]["owner"], got["big"]["sla_hours"]) == (
            "big enterprise",
            "kam@ourco.se",
            4,
        )
        # The inactive renewal rule is skipped even though it comes first.
        assert (got["small"]["rule_name"], got["small"]["queue"]) == ("enterprise", "enterprise-desk")
        assert (got["public"]["rule_name"], got["public"]["queue"]) == ("everything", "sales-desk")
        for r in got.values():
            assert r["overdue"] is False and r["reacted_at"] is None and r["escalated_at"] is None

    def test_functions_and_kinds_match(self, client: TestClient, auth: dict[str, str]) -> None:
        client.post(
            "/v1/routing/rules",
            json=rule(name="delivery expansions", functions=["delivery"], kinds=["expansion"], owner="am@ourco.se"),
            headers=auth,
        )
        hit = report(client, auth, function="delivery", kind="expansion", title="Add two more teams")
        miss = report(
            client, auth, customer="Tailspin Health", domain="tailspin.example", function="support", kind="expansion"
        )
        assert route(client, auth, hit)["owner"] == "am@ourco.se"
        assert client.get(f"/v1/routing/opportunities/{miss}", headers=auth).status_code == 404

    def test_a_signal_joining_an_opportunity_does_not_route_it_again(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        client.post("/v1/routing/rules", json=rule(), headers=auth)
        first = report(client, auth, title="Invoices are keyed in by hand")
        again = report(client, auth, title="Invoices are keyed in by hand")
        assert first == again
        with transaction(engine) as session:
            assert len(session.exec(select(OpportunityRoute)).all()) == 1

    def test_a_signal_assigned_after_review_is_routed_when_it_opens_an_opportunity(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        client.post("/v1/routing/rules", json=rule(), headers=auth)
        r = client.post("/v1/signals", json=signal_body(customer={"name": "Unheard Of Oy"}), headers=auth)
        assert r.json()["status"] == "needs_review"
        r = client.post(f"/v1/signals/{r.json()['id']}/account", json={"account": "A-1"}, headers=auth)
        assert r.status_code == 200, r.text
        assert route(client, auth, r.json()["opportunity"]["id"])["queue"] == "sales-desk"


def overdue_events(engine: sa.Engine) -> list[NotificationEvent]:
    with transaction(engine) as session:
        stmt = select(NotificationEvent).where(NotificationEvent.kind == "opportunity.overdue")
        return list(session.exec(stmt.order_by(col(NotificationEvent.id))))


def make_due(engine: sa.Engine, opportunity_id: str) -> None:
    with transaction(engine) as session:
        r = session.get(OpportunityRoute, uuid.UUID(opportunity_id))
        assert r is not None
        r.due_at = utcnow() - timedelta(minutes=1)
        session.add(r)


@pytest.mark.usefixtures("accounts")
class TestEscalation:
    @pytest.fixture(autouse=True)
    def _subscribed(self, engine: sa.Engine) -> None:
        # Events are only written when someone subscribes to them.
        with transaction(engine) as session:
            session.add(Subscription(url="http://127.0.0.1:9/hook", secret="whsec_test"))

    def test_an_untriaged_opportunity_escalates_once_however_often_the_sweep_runs(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        client.post("/v1/routing/rules", json=rule(sla_hours=2), headers=auth)
        late = report(client, auth, title="Invoices are keyed in by hand")
        waiting = report(client, auth, customer="Tailspin Health", domain="tailspin.example", title="Scheduling")
        assert sweep(engine) == 0  # nothing due yet
        make_due(engine, late)
        assert [sweep(engine) for _ in range(3)] == [1, 0, 0]
        (event,) = overdue_events(engine)
        assert str(event.opportunity_id) == late
        assert event.data["queue"] == "sales-desk" and event.data["sla_hours"] == 2
        assert route(client, auth, late)["overdue"] is True and route(client, auth, late)["escalated_at"]
        assert route(client, auth, waiting)["overdue"] is False

    def test_a_reaction_in_time_means_no_escalation(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        client.post("/v1/routing/rules", json=rule(sla_hours=2), headers=auth)
        opp = report(client, auth)
        r = client.post(f"/v1/opportunities/{opp}/outcome", json={"status": "open", "stage": "qualified"}, headers=auth)
        assert r.status_code == 200, r.text
        make_due(engine, opp)
        assert sweep(engine) == 0 and overdue_events(engine) == []
        got = route(client, auth, opp)
        assert got["reacted_at"] is not None and got["overdue"] is False

    def test_the_ageing_report_counts_it_as_overdue(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        client.post("/v1/routing/rules", json=rule(sla_hours=2), headers=auth)
        late = report(client, auth)
        report(client, auth, customer="Tailspin Health", domain="tailspin.example", title="Scheduling")
        make_due(engine, late)
        reports_current(client)
        rows = client.get("/v1/reports/ageing", params={"sla_days": 30}, headers=auth).json()["rows"]
        assert sum(r["overdue"] for r in rows) == 1
        assert sum(r["opportunities"] for r in rows) == 1  # the one still inside its time is not ageing yet
