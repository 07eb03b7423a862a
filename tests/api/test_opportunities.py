"""Attribution and clustering through the API: opportunities, credit, review queue, merge and detach."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import col, select

from app.core import versions
from app.core.auth import create_key
from app.core.db import transaction
from app.core.settings import Settings
from app.main import create_app
from app.notifications import events
from app.notifications.models import NotificationEvent, Subscription
from integrations.hubspot import HubSpotSettings
from tests.api.helpers import MERGE_ALL, row_counts, steer
from tests.conftest import ALL_SCOPES, signal_body

ACCOUNTS = [
    {"crm_id": "A-1", "name": "Nordkraft AB", "domains": ["nordkraft.se"]},
    {"crm_id": "A-2", "name": "Ekvall Försäkring AB", "domains": ["ekvall.se"]},
]
INVOICES = "Their finance team keys in every supplier invoice by hand in the ERP, about 3,000 invoices a month."
INVOICES_2 = (
    "Finance at the customer still types supplier invoices into the ERP manually; roughly 3,000 invoices monthly."
)
HR = "HR wants a new onboarding portal for seasonal staff, with digital contracts and e-signing."


def post(client: TestClient, auth: dict[str, str], **fields: object) -> dict[str, object]:
    r = client.post("/v1/signals", json=signal_body(**fields), headers=auth)
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


def setup_accounts(client: TestClient, auth: dict[str, str]) -> None:
    assert client.post("/v1/accounts/import", json={"accounts": ACCOUNTS}, headers=auth).status_code == 200


class TestClustering:
    def test_same_opportunity_from_two_people_is_one_with_two_credits(
        self, app: FastAPI, client: TestClient, auth: dict[str, str]
    ) -> None:
        steer(app, MERGE_ALL)  # whatever the model says: here the credit rules are tested
        setup_accounts(client, auth)
        a = post(
            client,
            auth,
            customer={"domain": "nordkraft.se"},
            body=INVOICES,
            title="Invoices keyed by hand",
            observed_at="2026-03-01T10:00:00Z",
            contributor={"email": "anna@ourco.se", "function": "support"},
        )
        b = post(
            client,
            auth,
            customer={"name": "Nordkraft"},
            body=INVOICES_2,
            title="Manual supplier invoice entry",
            observed_at="2026-03-05T10:00:00Z",
            contributor={"email": "per@ourco.se", "function": "delivery"},
        )
        assert a["opportunity"]["id"] == b["opportunity"]["id"]  # type: ignore[index]
        assert b["opportunity"]["match"]["matched_signal_ids"] or b["opportunity"]["match"]["score"]  # type: ignore[index]
        opp = client.get(f"/v1/opportunities/{a['opportunity']['id']}", headers=auth).json()  # type: ignore[index]
        roles = {c["email"]: c["role"] for c in opp["contributors"]}
        assert roles == {"anna@ourco.se": "originator", "per@ourco.se": "co_contributor"}
        assert opp["signal_count"] == 2 and len(opp["signals"]) == 2

    def test_different_needs_at_one_account_stay_apart(self, client: TestClient, auth: dict[str, str]) -> None:
        setup_accounts(client, auth)
        a = post(client, auth, customer={"domain": "nordkraft.se"}, body=INVOICES, title="Invoices keyed by hand")
        b = post(
            client,
            auth,
            customer={"domain": "nordkraft.se"},
            body=HR,
            title="Onboarding portal for HR",
            contributor={"email": "per@ourco.se"},
        )
        assert a["opportunity"]["id"] != b["opportunity"]["id"]  # type: ignore[index]

    def test_one_person_is_credited_once(self, app: FastAPI, client: TestClient, auth: dict[str, str]) -> None:
        steer(app, MERGE_ALL)  # whatever the model says: here the credit rule is tested
        setup_accounts(client, auth)
        a = post(
            client,
            auth,
            customer={"domain": "nordkraft.se"},
            body=INVOICES,
            title="Invoices keyed by hand",
            observed_at="2026-03-01T10:00:00Z",
        )
        post(
            client,
            auth,
            customer={"domain": "nordkraft.se"},
            body=INVOICES_2,
            title="Manual invoice entry again",
            observed_at="2026-03-20T10:00:00Z",
        )
        opp = client.get(f"/v1/opportunities/{a['opportunity']['id']}", headers=auth).json()  # type: ignore[index]
        assert len(opp["contributors"]) == 1 and opp["contributors"][0]["signal_count"] == 2

    def test_repost_by_the_same_person_stores_nothing(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        setup_accounts(client, auth)
        a = post(client, auth, customer={"domain": "nordkraft.se"}, body=INVOICES, title="Invoices keyed by hand")
        before = row_counts(engine)
        r = client.post(
            "/v1/signals",
            json=signal_body(customer={"domain": "nordkraft.se"}, body=INVOICES, title="Invoices keyed by hand"),
            headers=auth,
        )
        assert r.status_code == 200 and r.json()["id"] == a["id"]
        assert row_counts(engine) == before

    def test_payload_naming_an_opportunity_joins_it(self, client: TestClient, auth: dict[str, str]) -> None:
        setup_accounts(client, auth)
        a = post(client, auth, customer={"domain": "nordkraft.se"}, body=INVOICES, title="Invoices keyed by hand")
        b = post(
            client,
            auth,
            customer={"name": "someone"},
            body=HR,
            title="Unrelated words entirely",
            opportunity_ref=a["opportunity"]["id"],
            contributor={"email": "per@ourco.se"},
        )  # type: ignore[index]
        assert b["opportunity"]["id"] == a["opportunity"]["id"]  # type: ignore[index]
        assert b["attribution"]["method"] == "opportunity_ref"  # type: ignore[index]

    def test_detail_shows_every_signal_beyond_any_page_size(
        self, app: FastAPI, client: TestClient, auth: dict[str, str]
    ) -> None:
        """The detail once read signals through a 1,000-row page and silently dropped the rest."""
        steer(app, MERGE_ALL)
        setup_accounts(client, auth)
        total = 1_001
        for start in range(0, total, 500):
            batch = [
                signal_body(
                    customer={"domain": "nordkraft.se"},
                    body=INVOICES,
                    title="Invoices keyed by hand",
                    contributor={"email": f"person{i}@ourco.se"},  # one person's repeats would be one signal
                )
                for i in range(start, min(start + 500, total))
            ]
            r = client.post("/v1/signals/batch", json={"signals": batch}, headers=auth)
            assert r.status_code in (200, 201, 207), r.text
        opp_id = client.get("/v1/opportunities", headers=auth).json()["items"][0]["id"]
        opp = client.get(f"/v1/opportunities/{opp_id}", headers=auth).json()
        assert opp["signal_count"] == total
        assert len(opp["signals"]) == total
        observed = [s["observed_at"] for s in opp["signals"]]
        assert observed == sorted(observed)


class TestReviewQueue:
    def test_unknown_customer_waits_then_assignment_places_it(self, client: TestClient, auth: dict[str, str]) -> None:
        setup_accounts(client, auth)
        s = post(client, auth, customer={"email": "someone@gmail.com"}, body=INVOICES, title="Invoices keyed by hand")
        assert s["status"] == "needs_review" and s["account"] is None and s["opportunity"] is None
        assert s["attribution"]["method"] == "none"  # type: ignore[index]
        queue = client.get("/v1/review/attribution", headers=auth).json()["items"]
        assert [q["signal"]["id"] for q in queue] == [s["id"]]
        r = client.post(f"/v1/signals/{s['id']}/account", json={"account": "A-1"}, headers=auth)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["status"] == "attributed" and got["account"]["crm_id"] == "A-1"
        assert got["attribution"]["method"] == "manual" and got["opportunity"] is not None
        assert client.get("/v1/review/attribution", headers=auth).json()["items"] == []
        again = client.post(f"/v1/signals/{s['id']}/account", json={"account": "A-2"}, headers=auth)
        assert again.status_code == 409

    def test_assign_unknown_account_is_404(self, client: TestClient, auth: dict[str, str]) -> None:
        s = post(client, auth, customer={"name": "Nobody Known"})
        r = client.post(f"/v1/signals/{s['id']}/account", json={"account": "nope"}, headers=auth)
        assert r.status_code == 404


class TestCorrections:
    def test_merge_then_detach_recomputes_credit(self, client: TestClient, auth: dict[str, str]) -> None:
        setup_accounts(client, auth)
        a = post(
            client,
            auth,
            customer={"domain": "nordkraft.se"},
            body=INVOICES,
            title="Invoices keyed by hand",
            observed_at="2026-03-01T10:00:00Z",
            contributor={"email": "anna@ourco.se"},
        )
        b = post(
            client,
            auth,
            customer={"domain": "nordkraft.se"},
            body=HR,
            title="Onboarding portal for HR",
            observed_at="2026-02-01T10:00:00Z",
            contributor={"email": "per@ourco.se"},
        )
        oa, ob = a["opportunity"]["id"], b["opportunity"]["id"]  # type: ignore[index]
        assert oa != ob
        merged = client.post(f"/v1/opportunities/{oa}/merge", json={"opportunity_id": ob}, headers=auth)
        assert merged.status_code == 200, merged.text
        roles = {c["email"]: c["role"] for c in merged.json()["contributors"]}
        assert roles == {"per@ourco.se": "originator", "anna@ourco.se": "co_contributor"}  # per saw it first
        absorbed = client.get(f"/v1/opportunities/{ob}", headers=auth).json()
        assert absorbed["merged_into_id"] == oa and absorbed["signal_count"] == 0
        listed = [o["id"] for o in client.get("/v1/opportunities", headers=auth).json()["items"]]
        assert listed == [oa]
        assert (
            client.post(f"/v1/opportunities/{oa}/merge", json={"opportunity_id": ob}, headers=auth).status_code == 409
        )

        detached = client.post(f"/v1/signals/{b['id']}/detach", headers=auth)
        assert detached.status_code == 200, detached.text
        new_id = detached.json()["opportunity"]["id"]
        assert new_id not in (oa, ob)
        left = client.get(f"/v1/opportunities/{oa}", headers=auth).json()
        assert [(c["email"], c["role"]) for c in left["contributors"]] == [("anna@ourco.se", "originator")]
        assert client.post(f"/v1/signals/{b['id']}/detach", headers=auth).status_code == 409  # alone now

    def test_merge_across_accounts_is_409(self, client: TestClient, auth: dict[str, str]) -> None:
        setup_accounts(client, auth)
        a = post(client, auth, customer={"domain": "nordkraft.se"})
        b = post(client, auth, customer={"domain": "ekvall.se"})
        r = client.post(
            f"/v1/opportunities/{a['opportunity']['id']}/merge",  # type: ignore[index]
            json={"opportunity_id": b["opportunity"]["id"]},
            headers=auth,
        )  # type: ignore[index]
        assert r.status_code == 409 and r.json()["code"] == "different_accounts"

    def test_list_filters(self, client: TestClient, auth: dict[str, str]) -> None:
        setup_accounts(client, auth)
        post(client, auth, customer={"domain": "nordkraft.se"}, contributor={"email": "anna@ourco.se"})
        post(client, auth, customer={"domain": "ekvall.se"}, contributor={"email": "per@ourco.se"})
        by_account = client.get("/v1/opportunities", params={"account": "A-2"}, headers=auth).json()["items"]
        assert [o["account"]["crm_id"] for o in by_account] == ["A-2"]
        by_person = client.get("/v1/opportunities", params={"contributor": "anna@ourco.se"}, headers=auth).json()
        assert [o["account"]["crm_id"] for o in by_person["items"]] == ["A-1"]
        assert client.get("/v1/opportunities", params={"synced": "true"}, headers=auth).json()["items"] == []


class TestNotifications:
    def test_ingest_emits_attributed_and_merged_for_subscribers(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:

        setup_accounts(client, auth)
        post(client, auth, customer={"domain": "nordkraft.se"}, body=INVOICES, title="Invoices keyed by hand")
        with transaction(engine) as session:  # nobody listens yet: nothing is written
            assert session.exec(select(NotificationEvent)).all() == []
            session.add(Subscription(url="http://127.0.0.1:9/hook", secret="whsec_test"))
            # Stored directly (the API refuses loopback receivers), so the counter the service bumps is bumped
            # here too: ingest keeps a per-process copy of the active subscriptions that follows it.
            versions.bump(session, events.COUNTER)
        b = post(
            client,
            auth,
            customer={"name": "Nordkraft"},
            body=INVOICES_2,
            title="Manual supplier invoice entry",
            contributor={"email": "per@ourco.se"},
        )
        with transaction(engine) as session:
            got = [
                (e.kind, str(e.signal_id))
                for e in session.exec(select(NotificationEvent).order_by(col(NotificationEvent.id)))
            ]
        assert got == [("signal.attributed", b["id"]), ("signal.merged", b["id"])]


class TestMergeAndSync:
    def test_both_go_to_the_worker_the_absorbed_one_to_have_its_record_closed(self, db_url: str) -> None:
        # The worker closes the absorbed one's CRM record as a duplicate, or settles it when it has none; it is
        # never upserted again (tests/integration/test_sync_worker.py::TestMerges).

        settings = Settings(
            database_url=db_url,
            crm="hubspot",
            crm_settings=HubSpotSettings(base_url="http://127.0.0.1:9", access_token=SecretStr("t")),
        )
        app = create_app(settings)

        with transaction(app.state.engine) as session:
            _key, raw = create_key(session, "t", ALL_SCOPES)
        auth = {"Authorization": f"Bearer {raw}"}
        with TestClient(app) as client:
            setup_accounts(client, auth)
            a = post(client, auth, customer={"domain": "nordkraft.se"}, body=INVOICES, title="Invoices keyed by hand")
            b = post(client, auth, customer={"domain": "nordkraft.se"}, body=HR, title="Onboarding portal for HR")
            oa, ob = a["opportunity"]["id"], b["opportunity"]["id"]  # type: ignore[index]
            assert (
                client.post(f"/v1/opportunities/{oa}/merge", json={"opportunity_id": ob}, headers=auth).status_code
                == 200
            )
        with app.state.engine.connect() as conn:
            jobs = dict(conn.execute(sa.text("SELECT opportunity_id, state FROM sync_jobs")).all())
        states = {str(k).replace("-", ""): v for k, v in jobs.items()}
        assert states[oa.replace("-", "")] == "pending"
        assert states[ob.replace("-", "")] == "pending"
