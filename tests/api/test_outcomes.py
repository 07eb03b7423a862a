"""POST /v1/opportunities/{id}/outcome and the CRM-neutral apply_outcome behind it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.core.db import transaction
from app.notifications.models import NotificationEvent, Subscription
from app.opportunities.models import Opportunity, OpportunityEvent
from app.opportunities.outcomes import apply_outcome
from app.reports.models import OpportunityMilestone
from tests.api.test_reports_data import Dataset, build
from tests.conftest import KeyFactory


@pytest.fixture
def data(engine: sa.Engine) -> Dataset:
    # Events are only written when someone subscribes to them.
    with transaction(engine) as session:
        session.add(Subscription(url="http://127.0.0.1:9/hook", secret="whsec_test"))
    return build(engine)


def events(engine: sa.Engine) -> list[str]:
    with transaction(engine) as session:
        return [e.kind for e in session.exec(select(NotificationEvent).order_by(col(NotificationEvent.id)))]


class TestPostOutcome:
    def test_closing_sets_fields_records_an_event_and_notifies(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, data: Dataset
    ) -> None:
        opp_id = data.opps["opp2"]
        r = client.post(
            f"/v1/opportunities/{opp_id}/outcome",
            json={
                "status": "won",
                "stage": "closedwon",
                "amount": "640.50",
                "currency": "sek",
                "close_date": "2025-03-10",
                "note": "Signed for two years.",
                "changed_at": "2025-03-10T12:00:00Z",
            },
            headers=auth,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["changed"] is True
        assert (body["status"], body["amount"], body["currency"]) == ("won", "640.50", "SEK")
        assert body["closed_at"].startswith("2025-03-10T12:00:00") and body["stage_changed_at"] == body["closed_at"]
        with transaction(engine) as session:
            opp = session.get(Opportunity, opp_id)
            assert opp is not None and opp.note == "Signed for two years." and opp.amount == Decimal("640.50")
            [event] = session.exec(select(OpportunityEvent).where(OpportunityEvent.opportunity_id == opp_id))
            assert event.kind == "outcome" and event.detail["previous_status"] == "open"
            assert "Signed" not in str(event.detail)  # the note is not copied into the audit trail
            milestone = session.get(OpportunityMilestone, opp_id)
            assert milestone is not None and milestone.first_stage_changed_at == datetime(2025, 3, 10, 12, tzinfo=UTC)
        assert events(engine) == ["opportunity.closed"]

    def test_the_same_outcome_twice_changes_nothing_the_second_time(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, data: Dataset
    ) -> None:
        body = {"status": "open", "stage": "proposal"}
        first = client.post(f"/v1/opportunities/{data.opps['opp4']}/outcome", json=body, headers=auth)
        second = client.post(f"/v1/opportunities/{data.opps['opp4']}/outcome", json=body, headers=auth)
        assert (first.json()["changed"], second.json()["changed"]) == (True, False)
        assert events(engine) == ["opportunity.stage_changed"]

    def test_reopening_clears_closed_at(self, client: TestClient, auth: dict[str, str], data: Dataset) -> None:
        r = client.post(f"/v1/opportunities/{data.opps['opp3']}/outcome", json={"status": "open"}, headers=auth)
        assert r.status_code == 200 and r.json()["closed_at"] is None

    def test_a_crm_synced_opportunity_takes_its_outcome_from_the_crm(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, data: Dataset
    ) -> None:
        with transaction(engine) as session:
            opp = session.get(Opportunity, data.opps["opp2"])
            assert opp is not None
            opp.crm, opp.crm_id = "hubspot", "deal-1"
            session.add(opp)
        r = client.post(f"/v1/opportunities/{data.opps['opp2']}/outcome", json={"status": "won"}, headers=auth)
        assert r.status_code == 409 and r.json()["code"] == "outcome_owned_by_crm"
        assert events(engine) == []

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"status": "maybe"}, "status"),
            ({"status": "won", "amount": "10.00"}, "body"),
            ({"status": "won", "amount": "-1", "currency": "SEK"}, "amount"),
            ({"status": "won", "amount": "1", "currency": "XYZ"}, "currency"),
            ({"status": "won", "owner": "me"}, "owner"),
        ],
    )
    def test_bad_input_is_rejected_naming_the_field(
        self,
        client: TestClient,
        auth: dict[str, str],
        engine: sa.Engine,
        data: Dataset,
        body: dict[str, str],
        field: str,
    ) -> None:
        r = client.post(f"/v1/opportunities/{data.opps['opp2']}/outcome", json=body, headers=auth)
        assert r.status_code == 422
        assert any(e["field"] == field for e in r.json()["errors"]), r.json()
        assert events(engine) == []

    def test_unknown_opportunity_is_404_and_scope_is_enforced(
        self, client: TestClient, auth: dict[str, str], make_key: KeyFactory, data: Dataset
    ) -> None:
        r = client.post(
            "/v1/opportunities/0190a1b2-0000-7000-8000-000000000000/outcome", json={"status": "won"}, headers=auth
        )
        assert r.status_code == 404
        reader = {"Authorization": f"Bearer {make_key('signals:read', 'reports:read')}"}
        r = client.post(f"/v1/opportunities/{data.opps['opp2']}/outcome", json={"status": "won"}, headers=reader)
        assert r.status_code == 403


class TestApplyOutcome:
    def test_is_crm_neutral_and_reports_whether_anything_changed(self, engine: sa.Engine, data: Dataset) -> None:
        with transaction(engine) as session:
            opp = session.get(Opportunity, data.opps["opp1"])
            assert opp is not None
            kwargs = {
                "status": "won",
                "stage": None,
                "amount": Decimal("1000.00"),
                "currency": "SEK",
                "close_date": None,
                "note": "Signed, thanks!",
                "changed_at": None,
                "source": "hubspot:webhook",
            }
            assert apply_outcome(session, opp, **kwargs) is False  # type: ignore[arg-type]
            assert apply_outcome(session, opp, **{**kwargs, "stage": "closedwon"}) is True  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="status"):
                apply_outcome(session, opp, **{**kwargs, "status": "pending"})  # type: ignore[arg-type]
        assert events(engine) == ["opportunity.stage_changed"]


class TestBoundKeys:
    def test_a_key_bound_to_someone_else_cannot_set_an_outcome(
        self, client: TestClient, make_key: KeyFactory, engine: sa.Engine, data: Dataset
    ) -> None:
        stranger = uuid.uuid4()
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO contributors (id, email, function, created_at, signal_count) "
                    "VALUES (:i, 'stranger@ourco.se', 'support', CURRENT_TIMESTAMP, 0)"
                ),
                {"i": stranger if engine.dialect.name == "postgresql" else stranger.hex},
            )
        key = make_key("signals:write", "signals:read", contributor_id=stranger)
        r = client.post(
            f"/v1/opportunities/{data.opps['opp2']}/outcome",
            json={"status": "lost", "note": "not ours"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 404
        with transaction(engine) as session:
            opp = session.get(Opportunity, data.opps["opp2"])
            assert opp is not None and opp.status == "open" and opp.note is None
