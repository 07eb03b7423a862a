"""Deduplication through the API: the three outcomes, the duplicate review queue, accept and reject with their
credits and CRM effects, and every decision stored as a label.

The outcomes are steered with a stored calibration (thresholds at 0 or above 1), so the tests check the
machinery, not the fitted model's judgement (bench/train_dedup.py and bench/matching.py measure that)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import select

from app.core.auth import create_key
from app.core.db import transaction
from app.core.settings import Settings
from app.duplicates.models import DuplicateSuggestion, MatchLabel
from app.main import create_app
from integrations.hubspot import HubSpotSettings
from tests.api.helpers import MERGE_ALL, NOTHING, SUGGEST_ALL, row_counts, steer
from tests.conftest import ALL_SCOPES, signal_body

ACCOUNTS = [
    {"crm_id": "A-1", "name": "Nordkraft AB", "domains": ["nordkraft.se"]},
    {"crm_id": "A-2", "name": "Ekvall Försäkring AB", "domains": ["ekvall.se"]},
]
INVOICES = "Their finance team keys in every supplier invoice by hand in the ERP, about 3,000 invoices a month."
INVOICES_2 = "Finance still types supplier invoices into the ERP manually; roughly 3,000 invoices monthly."


def post(client: TestClient, auth: dict[str, str], **fields: object) -> dict[str, object]:
    r = client.post("/v1/signals", json=signal_body(**fields), headers=auth)
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


def two_signals(client: TestClient, auth: dict[str, str]) -> tuple[dict[str, object], dict[str, object]]:
    assert client.post("/v1/accounts/import", json={"accounts": ACCOUNTS}, headers=auth).status_code == 200
    a = post(
        client,
        auth,
        customer={"domain": "nordkraft.se"},
        title="Invoices keyed by hand",
        body=INVOICES,
        observed_at="2026-03-01T10:00:00Z",
        contributor={"email": "anna@ourco.se", "function": "support"},
    )
    b = post(
        client,
        auth,
        customer={"domain": "nordkraft.se"},
        title="Manual supplier invoice entry",
        body=INVOICES_2,
        observed_at="2026-03-05T10:00:00Z",
        contributor={"email": "per@ourco.se", "function": "delivery"},
    )
    return a, b


def opp_id(signal: dict[str, object]) -> str:
    return str(signal["opportunity"]["id"])  # type: ignore[index]


class TestThreeOutcomes:
    def test_above_the_merge_threshold_the_signal_joins(
        self, app: FastAPI, client: TestClient, auth: dict[str, str]
    ) -> None:
        steer(app, MERGE_ALL)
        a, b = two_signals(client, auth)
        assert opp_id(a) == opp_id(b)
        assert b["opportunity"]["match"]["outcome"] == "merged"  # type: ignore[index]
        assert b["duplicate_candidates"] == []

    def test_between_floor_and_threshold_a_new_opportunity_with_candidates(
        self, app: FastAPI, client: TestClient, auth: dict[str, str]
    ) -> None:
        steer(app, SUGGEST_ALL)
        a, b = two_signals(client, auth)
        assert opp_id(a) != opp_id(b)
        (candidate,) = b["duplicate_candidates"]  # type: ignore[misc]
        assert candidate["opportunity_id"] == opp_id(a)
        assert 0.0 <= candidate["score"] <= 1.0 and candidate["reasons"]
        again = client.get(f"/v1/signals/{b['id']}", headers=auth).json()
        assert again["duplicate_candidates"] == b["duplicate_candidates"]

    def test_batch_answers_carry_the_candidates(self, app: FastAPI, client: TestClient, auth: dict[str, str]) -> None:
        steer(app, SUGGEST_ALL)
        assert client.post("/v1/accounts/import", json={"accounts": ACCOUNTS}, headers=auth).status_code == 200
        bodies = [
            signal_body(customer={"domain": "nordkraft.se"}, title="Invoices keyed by hand", body=INVOICES,
                        observed_at="2026-03-01T10:00:00Z", source={"system": "t", "reference": "1"}),
            signal_body(customer={"domain": "nordkraft.se"}, title="Manual invoice entry", body=INVOICES_2,
                        observed_at="2026-03-02T10:00:00Z", source={"system": "t", "reference": "2"}),
        ]  # fmt: skip
        r = client.post("/v1/signals/batch", json={"signals": bodies}, headers=auth)
        assert r.status_code == 200, r.text
        first, second = (item["signal"] for item in r.json()["results"])
        assert [c["opportunity_id"] for c in second["duplicate_candidates"]] == [first["opportunity"]["id"]]
        assert first["duplicate_candidates"] == []

    def test_below_the_floor_a_new_opportunity_and_no_candidates(
        self, app: FastAPI, client: TestClient, auth: dict[str, str]
    ) -> None:
        steer(app, NOTHING)
        a, b = two_signals(client, auth)
        assert opp_id(a) != opp_id(b)
        assert b["duplicate_candidates"] == []
        assert client.get("/v1/review/duplicates", headers=auth).json()["items"] == []

    def test_an_opportunity_idle_longer_than_the_horizon_is_no_candidate(self, db_url: str) -> None:
        app = create_app(Settings(database_url=db_url, log_format="text", match_max_age_days=2))
        steer(app, SUGGEST_ALL)
        with transaction(app.state.engine) as session:
            _key, raw = create_key(session, "t", ALL_SCOPES)
        with TestClient(app) as client:
            a, b = two_signals(client, {"Authorization": f"Bearer {raw}"})  # four days apart
        assert opp_id(a) != opp_id(b)
        assert b["duplicate_candidates"] == []


def labels(app: FastAPI) -> list[tuple[str, bool]]:
    with transaction(app.state.engine) as session:
        return sorted((label.kind, label.same) for label in session.exec(select(MatchLabel)))


class TestDuplicateQueue:
    def test_queue_shows_the_signal_and_the_candidate_texts(
        self, app: FastAPI, client: TestClient, auth: dict[str, str]
    ) -> None:
        steer(app, SUGGEST_ALL)
        a, b = two_signals(client, auth)
        r = client.get("/v1/review/duplicates", headers=auth)
        assert r.status_code == 200, r.text
        (item,) = r.json()["items"]
        assert item["signal"]["id"] == b["id"] and item["signal"]["body"] == INVOICES_2
        (candidate,) = item["candidates"]
        assert candidate["opportunity_id"] == opp_id(a) and candidate["reasons"]
        assert [s["body"] for s in candidate["signals"]] == [INVOICES]

    def test_accept_merges_and_credits_both_contributors(
        self, app: FastAPI, client: TestClient, auth: dict[str, str]
    ) -> None:
        steer(app, SUGGEST_ALL)
        a, b = two_signals(client, auth)
        r = client.post(f"/v1/review/duplicates/{b['id']}/accept", json={"opportunity_id": opp_id(a)}, headers=auth)
        assert r.status_code == 200, r.text
        assert opp_id(r.json()) == opp_id(a) and r.json()["duplicate_candidates"] == []
        opp = client.get(f"/v1/opportunities/{opp_id(a)}", headers=auth).json()
        assert {c["email"]: c["role"] for c in opp["contributors"]} == {
            "anna@ourco.se": "originator",
            "per@ourco.se": "co_contributor",
        }
        gone = client.get(f"/v1/opportunities/{opp_id(b)}", headers=auth).json()
        assert gone["merged_into_id"] == opp_id(a) if "merged_into_id" in gone else True
        assert client.get("/v1/review/duplicates", headers=auth).json()["items"] == []
        assert labels(app) == [("accept", True), ("merge", True)]
        with transaction(app.state.engine) as session:
            (s,) = session.exec(select(DuplicateSuggestion))
            assert s.status == "accepted" and len(s.features) > 0

    def test_reject_records_that_they_differ(self, app: FastAPI, client: TestClient, auth: dict[str, str]) -> None:
        steer(app, SUGGEST_ALL)
        a, b = two_signals(client, auth)
        r = client.post(f"/v1/review/duplicates/{b['id']}/reject", json={"opportunity_id": opp_id(a)}, headers=auth)
        assert r.status_code == 200, r.text
        assert opp_id(r.json()) == opp_id(b) and r.json()["duplicate_candidates"] == []
        assert client.get("/v1/review/duplicates", headers=auth).json()["items"] == []
        assert labels(app) == [("reject", False)]
        again = client.post(f"/v1/review/duplicates/{b['id']}/reject", json={}, headers=auth)
        assert again.status_code == 409 and again.json()["code"] == "no_candidates"

    def test_accept_closes_the_merged_away_crm_record_as_a_merge_does(self, db_url: str) -> None:
        settings = Settings(
            database_url=db_url,
            crm="hubspot",
            crm_settings=HubSpotSettings(base_url="http://127.0.0.1:9", access_token=SecretStr("t")),
        )
        app = create_app(settings)
        steer(app, SUGGEST_ALL)
        with transaction(app.state.engine) as session:
            _key, raw = create_key(session, "t", ALL_SCOPES)
        auth = {"Authorization": f"Bearer {raw}"}
        with TestClient(app) as client:
            a, b = two_signals(client, auth)
            r = client.post(f"/v1/review/duplicates/{b['id']}/accept", json={"opportunity_id": opp_id(a)}, headers=auth)
            assert r.status_code == 200, r.text
        with app.state.engine.connect() as conn:
            jobs = dict(conn.execute(sa.text("SELECT opportunity_id, state FROM sync_jobs")).all())
        states = {str(k).replace("-", ""): v for k, v in jobs.items()}
        assert states[opp_id(a).replace("-", "")] == "pending"  # the survivor is synced with both contributors
        # The merged-away one goes to the worker too, which closes its CRM record as a duplicate (or settles it when
        # it has none): tests/integration/test_sync_api.py::TestAcceptedDuplicate does it against the sandbox.
        assert states[opp_id(b).replace("-", "")] == "pending"


class TestBadInput:
    @pytest.mark.parametrize("action", ["accept", "reject"])
    def test_unknown_signal_is_404(self, action: str, client: TestClient, auth: dict[str, str]) -> None:
        r = client.post(f"/v1/review/duplicates/{uuid.uuid4()}/{action}", json={"opportunity_id": str(uuid.uuid4())},
                        headers=auth)  # fmt: skip
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")

    def test_unknown_opportunity_is_404_and_stores_nothing(
        self, app: FastAPI, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        steer(app, SUGGEST_ALL)
        _a, b = two_signals(client, auth)
        before = row_counts(engine)
        r = client.post(f"/v1/review/duplicates/{b['id']}/accept", json={"opportunity_id": str(uuid.uuid4())},
                        headers=auth)  # fmt: skip
        assert r.status_code == 404
        assert row_counts(engine) == before

    def test_opportunity_of_another_account_is_409(
        self, app: FastAPI, client: TestClient, auth: dict[str, str]
    ) -> None:
        steer(app, SUGGEST_ALL)
        _a, b = two_signals(client, auth)
        other = post(
            client,
            auth,
            customer={"domain": "ekvall.se"},
            title="Claims by e-mail",
            body="Claims come in as free text.",
        )
        for action in ("accept", "reject"):
            r = client.post(f"/v1/review/duplicates/{b['id']}/{action}", json={"opportunity_id": opp_id(other)},
                            headers=auth)  # fmt: skip
            assert r.status_code == 409 and r.json()["code"] == "different_accounts"

    def test_an_opportunity_that_is_no_candidate_is_409(
        self, app: FastAPI, client: TestClient, auth: dict[str, str]
    ) -> None:
        steer(app, SUGGEST_ALL)
        _a, b = two_signals(client, auth)
        r = client.post(f"/v1/review/duplicates/{b['id']}/accept", json={"opportunity_id": opp_id(b)}, headers=auth)
        assert r.status_code == 409 and r.json()["code"] == "not_a_candidate"

    @pytest.mark.parametrize("body", [{}, {"opportunity_id": "nope"}, {"opportunity_id": None}, {"extra": 1}])
    def test_malformed_accept_is_422_naming_the_field(
        self, body: dict[str, object], app: FastAPI, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        steer(app, SUGGEST_ALL)
        _a, b = two_signals(client, auth)
        before = row_counts(engine)
        r = client.post(f"/v1/review/duplicates/{b['id']}/accept", json=body, headers=auth)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"]
        assert row_counts(engine) == before


class TestLabels:
    def test_merge_and_detach_are_stored_as_labels(
        self, app: FastAPI, client: TestClient, auth: dict[str, str]
    ) -> None:
        steer(app, MERGE_ALL)
        a, b = two_signals(client, auth)
        assert opp_id(a) == opp_id(b)
        r = client.post(f"/v1/signals/{b['id']}/detach", headers=auth)
        assert r.status_code == 200, r.text
        r = client.post(f"/v1/opportunities/{opp_id(a)}/merge", json={"opportunity_id": opp_id(r.json())}, headers=auth)
        assert r.status_code == 200, r.text
        assert labels(app) == [("detach", False), ("merge", True)]
        with transaction(app.state.engine) as session:
            detach = session.exec(select(MatchLabel).where(MatchLabel.kind == "detach")).one()
            assert len(detach.features) > 0  # the model's inputs from when it joined

    def test_an_account_assigned_by_a_person_is_a_label(
        self, client: TestClient, auth: dict[str, str], app: FastAPI
    ) -> None:
        assert client.post("/v1/accounts/import", json={"accounts": ACCOUNTS}, headers=auth).status_code == 200
        s = post(client, auth, customer={"name": "Somebody Unknown Oy"}, title="A need", body="Something they need.")
        assert s["status"] == "needs_review"
        r = client.post(f"/v1/signals/{s['id']}/account", json={"account": "A-1"}, headers=auth)
        assert r.status_code == 200, r.text
        assert labels(app) == [("attribution", True)]
