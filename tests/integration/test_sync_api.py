"""Sync over the API, end to end against the HubSpot sandbox: pulls, ingest → outbox → worker → CRM, the
status and dead-letter replay endpoints, webhooks, metrics, and settings that choose the CRM."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select

from app.accounts.directory import current_version
from app.accounts.models import Account
from app.core.auth import create_key
from app.core.db import transaction
from app.core.settings import Settings, SettingsError, load_settings
from app.main import create_app
from app.opportunities.models import Opportunity
from app.sync import metrics as sync_metrics
from app.sync import router as sync_router
from app.sync.adapters import build_adapter
from app.sync.models import CRMUser, SyncCursor
from app.sync.pull import pull_all
from app.sync.worker import WorkerConfig
from integrations.hubspot import HubSpotAdapter, HubSpotSettings
from integrations.sandbox.control import Fault, FaultKind
from integrations.sandbox.hubspot import webhook_delivery
from tests.api.helpers import SUGGEST_ALL, steer
from tests.conftest import signal_body
from tests.integration.hubspot_env import CLIENT_SECRET, TOKEN, HubSpotEnv, hubspot_env
from tests.integration.test_sync_support import crm_copies, jobs_by_state, make_worker

PUBLIC = "https://signals.example.com"


def mount_sync(app: FastAPI) -> FastAPI:
    """Include the sync routes unless app.main already does."""
    paths = {getattr(r, "path", None) for r in app.router.routes}
    if "/v1/sync/status" not in paths:
        app.include_router(sync_router.router)
    if "/v1/webhooks/{crm}" not in paths:
        app.include_router(sync_router.webhooks_router)
    if "/metrics" not in paths:
        app.include_router(sync_metrics.router)
    return app


@pytest.fixture
def hs_settings(db_url: str, hs_env: HubSpotEnv) -> Settings:
    return Settings(
        database_url=db_url,
        log_format="text",
        crm="hubspot",
        crm_settings=HubSpotSettings(
            base_url=hs_env.base_url,
            access_token=SecretStr(TOKEN),
            client_secret=SecretStr(CLIENT_SECRET),
            portal_id="4400001",
        ),
        webhook_base_url=PUBLIC,
        sync_poll_seconds=0.05,
        sync_backoff_base_seconds=0.05,
    )


@pytest.fixture
def hs_app(hs_settings: Settings) -> FastAPI:
    return mount_sync(create_app(hs_settings))


@pytest.fixture
def api(hs_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(hs_app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def headers(hs_app: FastAPI) -> dict[str, str]:
    with transaction(hs_app.state.engine) as session:
        _key, raw = create_key(session, "test", ["signals:write", "signals:read", "admin"], None)
    return {"Authorization": f"Bearer {raw}"}


def _worker(app: FastAPI, settings: Settings) -> Any:
    adapter = build_adapter(settings)
    assert isinstance(adapter, HubSpotAdapter)
    config = WorkerConfig.from_settings(settings, adapter)
    return make_worker(app.state.engine, adapter, batch_size=config.batch_size)


class TestPulls:
    def test_accounts_users_and_outcomes_are_pulled(self, hs_app: FastAPI, hs_env: HubSpotEnv) -> None:
        engine = hs_app.state.engine
        company = hs_env.control.seed_account("Nordkraft AB", "nordkraft.se", owner_email="owner@ourco.se")
        hs_env.control.seed_user("ada@ourco.se", "Ada")
        with Session(engine) as session:
            version_before = current_version(session)

        counts = pull_all(engine, hs_env.adapter)

        assert counts["accounts"] == 1 and counts["users"] >= 2
        with Session(engine) as session:
            account = session.exec(select(Account).where(Account.crm_id == company)).one()
            assert account.crm == "hubspot" and account.name == "Nordkraft AB" and "nordkraft.se" in account.domains
            owner = session.exec(select(CRMUser).where(CRMUser.email == "owner@ourco.se")).one()
            assert account.owner_crm_id == owner.crm_id
            assert current_version(session) > version_before
            assert session.get(SyncCursor, ("hubspot", "accounts")) is not None

        time.sleep(0.01)
        hs_env.control.update_company(company, name="Nordkraft Group AB")
        assert pull_all(engine, hs_env.adapter)["accounts"] >= 1
        with Session(engine) as session:
            assert session.exec(select(Account).where(Account.crm_id == company)).one().name == "Nordkraft Group AB"
            assert len(session.exec(select(Account)).all()) == 1


class TestIngestToCRM:
    def test_a_posted_signal_reaches_the_crm_once_and_shows_its_crm_id_and_link(
        self, api: TestClient, hs_app: FastAPI, hs_settings: Settings, hs_env: HubSpotEnv, headers: dict[str, str]
    ) -> None:
        company = hs_env.control.seed_account("Nordkraft AB", "nordkraft.se", owner_email="owner@ourco.se")
        pull_all(hs_app.state.engine, hs_env.adapter)
        body = signal_body(customer={"crm_account_id": company, "name": "Nordkraft AB"})
        r = api.post("/v1/signals", json=body, headers=headers)
        assert r.status_code == 201, r.text
        opp_id = r.json()["opportunity"]["id"]
        status = api.get("/v1/sync/status", headers=headers).json()
        [hub] = status["crms"]
        assert hub["crm"] == "hubspot" and hub["pending"] == 1 and hub["lag_seconds"] >= 0

        _worker(hs_app, hs_settings).drain()

        [deal] = hs_env.control.opportunities()
        assert deal.opportunity_id == opp_id and deal.account_crm_id == company
        signal = api.get(f"/v1/signals/{r.json()['id']}", headers=headers).json()
        assert signal["opportunity"]["crm_id"] == deal.crm_id
        assert deal.crm_id in signal["opportunity"]["crm_url"]
        [hub] = api.get("/v1/sync/status", headers=headers).json()["crms"]
        assert hub["done"] == 1 and hub["pending"] == 0 and hub["lag_seconds"] == 0


class TestAccountNotInCRM:
    """Item 8 of issue 12: no deal without its company."""

    def test_an_opportunity_whose_account_has_no_crm_record_waits_visibly_then_syncs_once_matched(
        self, api: TestClient, hs_app: FastAPI, hs_settings: Settings, hs_env: HubSpotEnv, headers: dict[str, str]
    ) -> None:
        local = {"crm": "import", "crm_id": "acc-nordkraft", "name": "Nordkraft AB", "domains": ["nordkraft.se"]}
        assert api.post("/v1/accounts/import", json={"accounts": [local]}, headers=headers).status_code == 200
        r = api.post("/v1/signals", json=signal_body(customer={"crm_account_id": "acc-nordkraft"}), headers=headers)
        assert r.status_code == 201, r.text
        worker = _worker(hs_app, hs_settings)

        worker.drain()

        assert hs_env.control.opportunities() == []  # no deal without a company
        [hub] = api.get("/v1/sync/status", headers=headers).json()["crms"]
        assert hub["waiting_for_account"] == 1 and hub["dead"] == 0 and hub["retrying"] == 1
        [why] = hub["last_errors"]
        assert why["code"] == "ACCOUNT_NOT_IN_CRM" and why["opportunity_id"] == r.json()["opportunity"]["id"]

        # A seller creates the company in the CRM; the next pull matches it to the local account by domain and
        # the waiting opportunity is due at once.
        company = hs_env.control.seed_account("Nordkraft AB", "nordkraft.se")
        pull_all(hs_app.state.engine, hs_env.adapter)
        worker.drain()

        [deal] = hs_env.control.opportunities()
        assert deal.account_crm_id == company and deal.opportunity_id == r.json()["opportunity"]["id"]
        [hub] = api.get("/v1/sync/status", headers=headers).json()["crms"]
        assert hub["waiting_for_account"] == 0 and hub["done"] == 1
        with Session(hs_app.state.engine) as session:
            [account] = session.exec(select(Account)).all()  # the local account became the CRM's, not a second one
            assert (account.crm, account.crm_id) == ("hubspot", company)

    def test_an_ambiguous_domain_is_not_matched(
        self, api: TestClient, hs_app: FastAPI, hs_settings: Settings, hs_env: HubSpotEnv, headers: dict[str, str]
    ) -> None:
        local = {"crm": "import", "crm_id": "acc-nk", "name": "Nordkraft AB", "domains": ["nordkraft.se"]}
        assert api.post("/v1/accounts/import", json={"accounts": [local]}, headers=headers).status_code == 200
        api.post("/v1/signals", json=signal_body(customer={"crm_account_id": "acc-nk"}), headers=headers)
        _worker(hs_app, hs_settings).drain()
        hs_env.control.seed_account("Nordkraft AB", "nordkraft.se")
        hs_env.control.seed_account("Nordkraft Holding", "nordkraft.se")

        pull_all(hs_app.state.engine, hs_env.adapter)

        [hub] = api.get("/v1/sync/status", headers=headers).json()["crms"]
        assert hub["waiting_for_account"] == 1 and hs_env.control.opportunities() == []


class TestAcceptedDuplicate:
    """Item 7 of issue 12 through issue 9's duplicate queue: accepting a duplicate closes its deal in the CRM."""

    def test_accepting_a_duplicate_merges_the_two_deals_and_the_survivor_credits_both(
        self, api: TestClient, hs_app: FastAPI, hs_settings: Settings, hs_env: HubSpotEnv, headers: dict[str, str]
    ) -> None:
        company = hs_env.control.seed_account("Nordkraft AB", "nordkraft.se")
        pull_all(hs_app.state.engine, hs_env.adapter)
        steer(hs_app, SUGGEST_ALL)  # nothing joins on its own; every candidate is suggested
        posted = [
            api.post(
                "/v1/signals",
                json=signal_body(customer={"crm_account_id": company}, contributor={"email": who, "function": f}),
                headers=headers,
            ).json()
            for who, f in (("anna@ourco.se", "support"), ("per@ourco.se", "delivery"))
        ]
        keep, dup = (str(p["opportunity"]["id"]) for p in posted)
        worker = _worker(hs_app, hs_settings)
        worker.drain()
        assert len(hs_env.control.opportunities()) == 2

        r = api.post(f"/v1/review/duplicates/{posted[1]['id']}/accept", json={"opportunity_id": keep}, headers=headers)
        assert r.status_code == 200, r.text
        worker.drain()

        [deal] = hs_env.control.opportunities()  # one deal: HubSpot's merge of the two
        assert deal.opportunity_id == keep
        assert set(deal.properties["signal_pipeline_contributors"].split(";")) == {"anna@ourco.se", "per@ourco.se"}
        survivor = api.get(f"/v1/opportunities/{keep}", headers=headers).json()
        assert survivor["crm_id"] == deal.crm_id and len(survivor["contributors"]) == 2
        assert api.get(f"/v1/opportunities/{dup}", headers=headers).json()["merged_into_id"] == keep
        [hub] = api.get("/v1/sync/status", headers=headers).json()["crms"]
        assert hub["dead"] == 0 and hub["pending"] == 0 and hub["retrying"] == 0


class TestDeadLetters:
    def test_a_dead_job_is_listed_and_replayed(
        self, api: TestClient, hs_app: FastAPI, hs_settings: Settings, hs_env: HubSpotEnv, headers: dict[str, str]
    ) -> None:
        company = hs_env.control.seed_account("Acme AB", "acme.se")
        pull_all(hs_app.state.engine, hs_env.adapter)
        r = api.post("/v1/signals", json=signal_body(customer={"crm_account_id": company}), headers=headers)
        opp_id = r.json()["opportunity"]["id"]
        hs_env.control.add_fault(Fault(FaultKind.reject_record, times=1, match=opp_id))
        worker = _worker(hs_app, hs_settings)
        worker.drain()
        [hub] = api.get("/v1/sync/status", headers=headers).json()["crms"]
        assert hub["dead"] == 1
        [err] = hub["last_errors"]
        assert err["code"] == "INVALID_OPTION" and err["opportunity_id"] == opp_id and err["state"] == "dead"

        assert api.post(f"/v1/sync/dead/{uuid.uuid4()}/retry", headers=headers).status_code == 404
        replay = api.post(f"/v1/sync/dead/{err['job_id']}/retry", headers=headers)
        assert replay.status_code == 200 and replay.json()["state"] == "pending"
        again = api.post(f"/v1/sync/dead/{err['job_id']}/retry", headers=headers)
        assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")

        worker.drain()
        assert jobs_by_state(hs_app.state.engine) == {"done": 1}
        assert crm_copies(hs_env.control) == {opp_id: 1}

    def test_a_207_with_3_bad_records_of_100_lands_97_and_dead_letters_3_with_vendor_codes(
        self, api: TestClient, hs_app: FastAPI, hs_settings: Settings, hs_env: HubSpotEnv, headers: dict[str, str]
    ) -> None:
        # Three contributors estimated in yen, a currency this portal does not have: HubSpot answers 207 with
        # INVALID_OPTION on deal_currency_code for those three and creates the other 97.
        companies = [hs_env.control.seed_account(f"Customer {i}", f"customer{i}.example") for i in range(100)]
        pull_all(hs_app.state.engine, hs_env.adapter)
        yen = {3, 50, 97}
        batch = [
            signal_body(
                customer={"crm_account_id": company},
                value={"amount": "1000.00", "currency": "JPY" if i in yen else "EUR"},
            )
            for i, company in enumerate(companies)
        ]
        r = api.post("/v1/signals/batch", json={"signals": batch}, headers=headers)
        assert r.status_code in (200, 201, 207), r.text
        creates_before = hs_env.control.call_count("/crm/v3/objects/deals/batch/create")

        _worker(hs_app, hs_settings).drain()

        [hub] = api.get("/v1/sync/status", headers=headers).json()["crms"]
        assert (hub["done"], hub["dead"], hub["pending"], hub["retrying"]) == (97, 3, 0, 0)
        assert len(hub["last_errors"]) == 3
        assert {e["code"] for e in hub["last_errors"]} == {"INVALID_OPTION"}
        assert all("deal_currency_code" in e["message"] for e in hub["last_errors"])
        assert len(crm_copies(hs_env.control)) == 97
        assert hs_env.control.call_count("/crm/v3/objects/deals/batch/create") - creates_before == 1

    def test_status_needs_sync_read_and_retry_needs_sync_write(self, api: TestClient, hs_app: FastAPI) -> None:
        assert api.get("/v1/sync/status").status_code == 401
        with transaction(hs_app.state.engine) as session:
            _key, raw = create_key(session, "reader", ["sync:read"], None)
            _key, signals_only = create_key(session, "signals", ["signals:read"], None)
        reader = {"Authorization": f"Bearer {raw}"}
        assert api.get("/v1/sync/status", headers=reader).status_code == 200
        assert api.get("/v1/sync/status", headers={"Authorization": f"Bearer {signals_only}"}).status_code == 403
        assert api.post(f"/v1/sync/dead/{uuid.uuid4()}/retry", headers=reader).status_code == 403


class TestWebhooks:
    def _synced_deal(
        self, api: TestClient, hs_app: FastAPI, hs_settings: Settings, hs_env: HubSpotEnv, headers: dict[str, str]
    ) -> tuple[str, str]:
        company = hs_env.control.seed_account("Acme AB", "acme.se")
        pull_all(hs_app.state.engine, hs_env.adapter)
        r = api.post("/v1/signals", json=signal_body(customer={"crm_account_id": company}), headers=headers)
        _worker(hs_app, hs_settings).drain()
        [deal] = hs_env.control.opportunities()
        return r.json()["opportunity"]["id"], deal.crm_id

    def test_a_signed_delivery_applies_the_outcome_and_a_replay_changes_nothing(
        self, api: TestClient, hs_app: FastAPI, hs_settings: Settings, hs_env: HubSpotEnv, headers: dict[str, str]
    ) -> None:
        opp_id, crm_id = self._synced_deal(api, hs_app, hs_settings, hs_env, headers)
        hs_env.control.drain_webhook_events()
        hs_env.control.set_stage(crm_id, hs_env.won_stage, amount=4200.0)
        events = hs_env.control.drain_webhook_events()
        url = PUBLIC + "/v1/webhooks/hubspot"
        hdrs, body = webhook_delivery(
            events, url=url, client_secret=CLIENT_SECRET, timestamp_ms=int(time.time() * 1000)
        )

        first = api.post("/v1/webhooks/hubspot", content=body, headers=hdrs)
        assert first.status_code == 200, first.text
        assert first.json()["applied"] == 1
        with Session(hs_app.state.engine) as session:
            opp = session.get(Opportunity, uuid.UUID(opp_id))
            assert opp is not None and opp.status == "won" and opp.amount is not None and float(opp.amount) == 4200.0
            version = opp.version
        replay = api.post("/v1/webhooks/hubspot", content=body, headers=hdrs)
        assert replay.status_code == 200 and replay.json()["applied"] == 0
        with Session(hs_app.state.engine) as session:
            opp = session.get(Opportunity, uuid.UUID(opp_id))
            assert opp is not None and opp.version == version  # outcomes never cause a sync back
        assert jobs_by_state(hs_app.state.engine) == {"done": 1}

    def test_a_bad_signature_is_a_401_problem_and_changes_nothing(
        self, api: TestClient, hs_app: FastAPI, hs_settings: Settings, hs_env: HubSpotEnv, headers: dict[str, str]
    ) -> None:
        opp_id, crm_id = self._synced_deal(api, hs_app, hs_settings, hs_env, headers)
        hs_env.control.set_stage(crm_id, hs_env.won_stage)
        events = hs_env.control.drain_webhook_events()
        url = PUBLIC + "/v1/webhooks/hubspot"
        hdrs, body = webhook_delivery(events, url=url, client_secret="wrong", timestamp_ms=int(time.time() * 1000))
        r = api.post("/v1/webhooks/hubspot", content=body, headers=hdrs)
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "webhook_rejected"
        with Session(hs_app.state.engine) as session:
            opp = session.get(Opportunity, uuid.UUID(opp_id))
            assert opp is not None and opp.status == "open"

    def test_the_webhook_has_its_own_limit_per_sender(
        self, api: TestClient, hs_app: FastAPI, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(hs_app.state.settings, "webhook_rate_limit_per_minute", 1)
        assert api.post("/v1/webhooks/hubspot", content=b"[]").status_code == 401  # unsigned
        refused = api.post("/v1/webhooks/hubspot", content=b"[]")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert api.get("/v1/sync/status", headers=headers).status_code == 200  # API keys have their own buckets

    def test_an_unconfigured_crm_is_404(self, api: TestClient) -> None:
        assert api.post("/v1/webhooks/salesforce", content=b"[]").status_code == 404


class TestMetrics:
    def test_metrics_show_outbox_gauges(self, api: TestClient, hs_app: FastAPI) -> None:
        with transaction(hs_app.state.engine) as session:
            session.execute(sa.text("SELECT 1"))
        r = api.get("/metrics")
        assert r.status_code == 200
        assert "signal_pipeline_sync_records_total" in r.text


class TestSettings:
    def test_real_salesforce_credentials_need_no_code_change(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SIGNAL_PIPELINE_CRM", "salesforce")
        monkeypatch.setenv("SIGNAL_PIPELINE_SALESFORCE_CLIENT_ID", "3MVG9...")
        monkeypatch.setenv("SIGNAL_PIPELINE_SALESFORCE_CLIENT_SECRET", "s3cret")
        monkeypatch.setenv("SIGNAL_PIPELINE_SALESFORCE_USERNAME", "integration@ourco.se")
        monkeypatch.setenv("SIGNAL_PIPELINE_SALESFORCE_PASSWORD", "pw")
        adapter = build_adapter(load_settings())
        assert adapter is not None and adapter.name == "salesforce" and adapter.batch_size == 200

    def test_half_a_salesforce_configuration_is_refused_naming_what_is_missing(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SIGNAL_PIPELINE_CRM", "salesforce")
        monkeypatch.setenv("SIGNAL_PIPELINE_SALESFORCE_CLIENT_ID", "3MVG9...")
        monkeypatch.setenv("SIGNAL_PIPELINE_SALESFORCE_USERNAME", "integration@ourco.se")
        with pytest.raises(SettingsError) as err:
            load_settings()
        text = str(err.value)
        assert "SIGNAL_PIPELINE_SALESFORCE_CLIENT_SECRET" in text and "SIGNAL_PIPELINE_SALESFORCE_PASSWORD" in text
        assert "3MVG9" not in text

    def test_no_crm_means_no_adapter(self) -> None:
        assert build_adapter(Settings(crm="none")) is None

    def test_hubspot_settings_build_a_hubspot_adapter(self, hs_settings: Settings) -> None:
        adapter = build_adapter(hs_settings)
        assert isinstance(adapter, HubSpotAdapter) and adapter.record_url("42").endswith("/4400001/record/0-3/42")


class TestEmbeddedWorker:
    def test_the_in_process_worker_syncs_while_serving_and_stops(
        self, api: TestClient, hs_app: FastAPI, hs_settings: Settings, hs_env: HubSpotEnv, headers: dict[str, str]
    ) -> None:
        from app.sync.worker import start_in_process

        company = hs_env.control.seed_account("Acme AB", "acme.se")
        pull_all(hs_app.state.engine, hs_env.adapter)
        stop_worker = start_in_process(hs_settings)
        try:
            r = api.post("/v1/signals", json=signal_body(customer={"crm_account_id": company}), headers=headers)
            opp_id = r.json()["opportunity"]["id"]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and opp_id not in crm_copies(hs_env.control):
                time.sleep(0.05)
        finally:
            stop_worker()
        assert crm_copies(hs_env.control) == {opp_id: 1}


class TestCLI:
    def test_crm_setup_creates_the_properties_once(
        self, hs_settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from typer.testing import CliRunner

        from app.sync.cli import crm_cli

        with hubspot_env(setup=False) as env:
            for name, value in {
                "DATABASE_URL": hs_settings.database_url,
                "CRM": "hubspot",
                "HUBSPOT_BASE_URL": env.base_url,
                "HUBSPOT_ACCESS_TOKEN": TOKEN,
            }.items():
                monkeypatch.setenv(f"SIGNAL_PIPELINE_{name}", value)
            first = CliRunner().invoke(crm_cli, ["setup"])
            second = CliRunner().invoke(crm_cli, ["setup"])
            assert first.exit_code == 0, first.output
            assert '"created": []' not in first.output and '"created": []' in second.output
            status = CliRunner().invoke(crm_cli, ["status"])
            assert status.exit_code == 0
