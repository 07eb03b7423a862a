"""The HubSpot sandbox's wire behaviour: limits, error bodies, headers, mounting and HTTP control."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from integrations.base import Retryable
from integrations.hubspot import HubSpotAdapter
from integrations.sandbox.control import Fault, FaultKind
from integrations.sandbox.hubspot import create_hubspot_sandbox, seed_demo
from integrations.sandbox.hubspot_control import HubSpotSandboxClient
from integrations.sandbox.hubspot_state import HubSpotSandboxConfig
from tests.integration.hubspot_env import TOKEN, HubSpotEnv, SandboxServer, adapter_config, hubspot_env
from tests.integration.test_crm_conformance import make_record

KEY = "signal_pipeline_opportunity_id"
UPSERT = "/crm/v3/objects/deals/batch/upsert"


@pytest.fixture
def http(hs_env: HubSpotEnv) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hs_env.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def upsert_input(i: int | str, **props: str) -> dict[str, Any]:
    return {
        "idProperty": KEY,
        "id": f"o-{i}",
        "properties": {"dealname": f"d{i}", "dealstage": "qualifiedtobuy", **props},
    }


def assert_hubspot_error(body: dict[str, Any], category: str) -> None:
    assert body["status"] == "error" and body["category"] == category
    assert body["message"] and body["correlationId"]


class TestBatchLimits:
    @pytest.mark.parametrize("n", [100, 101])
    def test_object_batch_is_capped_at_100(self, http: httpx.Client, n: int) -> None:
        r = http.post(UPSERT, json={"inputs": [upsert_input(i) for i in range(n)]})
        if n == 100:
            assert r.status_code == 200 and len(r.json()["results"]) == 100
        else:
            assert r.status_code == 400
            assert_hubspot_error(r.json(), "VALIDATION_ERROR")
            assert "100" in r.json()["message"]

    def test_duplicate_ids_in_one_upsert_reject_the_batch(self, http: httpx.Client, hs_env: HubSpotEnv) -> None:
        r = http.post(UPSERT, json={"inputs": [upsert_input(1), upsert_input(2), upsert_input(1)]})
        assert r.status_code == 400
        assert_hubspot_error(r.json(), "VALIDATION_ERROR")
        assert hs_env.control.opportunities() == []

    def test_upsert_by_a_non_unique_property_is_refused(self, http: httpx.Client) -> None:
        r = http.post(UPSERT, json={"inputs": [{**upsert_input(1), "idProperty": "dealname"}]})
        assert r.status_code == 400 and "non-unique" in r.json()["message"]

    def test_upsert_creates_then_updates_by_unique_value(self, http: httpx.Client, hs_env: HubSpotEnv) -> None:
        first = http.post(UPSERT, json={"inputs": [upsert_input(1)]}).json()["results"][0]
        second = http.post(UPSERT, json={"inputs": [upsert_input(1, amount="5")]}).json()["results"][0]
        assert first["new"] is True and second["new"] is False and first["id"] == second["id"]
        assert len(hs_env.control.opportunities()) == 1

    def test_per_record_errors_come_back_as_207_with_trace_ids(self, http: httpx.Client) -> None:
        inputs = [
            {**upsert_input(1), "objectWriteTraceId": "t1"},
            {**upsert_input(2, dealstage="nope"), "objectWriteTraceId": "t2"},
        ]
        r = http.post(UPSERT, json={"inputs": inputs})
        body = r.json()
        assert r.status_code == 207 and body["numErrors"] == 1 and len(body["results"]) == 1
        err = body["errors"][0]
        assert err["context"]["objectWriteTraceId"] == ["t2"] and '"error":"INVALID_OPTION"' in err["message"]
        # the real entry's shape: no `links` (which the SDK model requires) and no `errors` list
        assert set(err) == {"status", "category", "message", "context"}

    def test_without_trace_ids_one_bad_input_rejects_the_batch(self, http: httpx.Client, hs_env: HubSpotEnv) -> None:
        r = http.post(UPSERT, json={"inputs": [upsert_input(1), upsert_input(2, nosuchprop="x")]})
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
        assert hs_env.control.opportunities() == []


class TestAssociations:
    def _pair(self, http: httpx.Client, hs_env: HubSpotEnv) -> tuple[str, str]:
        company = hs_env.control.seed_account("Acme", "acme.example")
        deal_id = http.post(UPSERT, json={"inputs": [upsert_input(1)]}).json()["results"][0]["id"]
        return deal_id, company

    @pytest.mark.parametrize(
        ("category", "type_id"), [("HUBSPOT_DEFINED", 1), ("HUBSPOT_DEFINED", 342), ("USER_DEFINED", 341)]
    )
    def test_wrong_type_is_refused_with_hubspots_body(
        self, http: httpx.Client, hs_env: HubSpotEnv, category: str, type_id: int
    ) -> None:
        deal_id, company = self._pair(http, hs_env)
        r = http.post(
            "/crm/v4/associations/deals/companies/batch/create",
            json={
                "inputs": [
                    {
                        "from": {"id": deal_id},
                        "to": {"id": company},
                        "types": [{"associationCategory": category, "associationTypeId": type_id}],
                    }
                ]
            },
        )
        assert r.status_code == 400
        assert_hubspot_error(r.json(), "VALIDATION_ERROR")
        assert r.json()["message"] == "One or more associations are invalid"
        assert "INVALID_OBJECT_IDS" in r.json()["context"]

    @pytest.mark.parametrize("type_id", [5, 341])
    def test_deal_to_company_types_are_accepted(self, http: httpx.Client, hs_env: HubSpotEnv, type_id: int) -> None:
        deal_id, company = self._pair(http, hs_env)
        r = http.post(
            "/crm/v4/associations/0-3/0-2/batch/create",
            json={
                "inputs": [
                    {
                        "from": {"id": deal_id},
                        "to": {"id": company},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
                    }
                ]
            },
        )
        assert r.status_code == 201 and r.json()["results"][0]["toObjectId"] == company
        assert (company, type_id) in hs_env.control.deal_companies(deal_id)


class TestErrorsAndLimits:
    def test_properties_and_groups_answer_409_when_present(self, http: httpx.Client) -> None:
        r = http.post(
            "/crm/v3/properties/deals",
            json={"name": KEY, "label": "x", "type": "string", "fieldType": "text", "groupName": "signal_pipeline"},
        )
        assert r.status_code == 409
        assert_hubspot_error(r.json(), "OBJECT_ALREADY_EXISTS")
        r = http.post("/crm/v3/properties/deals/groups", json={"name": "signal_pipeline", "label": "x"})
        assert r.status_code == 409

    def test_bad_and_expired_tokens(self, http: httpx.Client, hs_env: HubSpotEnv) -> None:
        r = http.get("/crm/v3/owners", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401
        assert_hubspot_error(r.json(), "INVALID_AUTHENTICATION")
        hs_env.control.expire_token(TOKEN)
        r = http.get("/crm/v3/owners")
        assert r.status_code == 401
        assert_hubspot_error(r.json(), "EXPIRED_AUTHENTICATION")

    def test_rate_limit_body_headers_and_recovery(self) -> None:
        with (
            hubspot_env(
                setup=False,
                sandbox={"rate_limit_per_window": 3, "rate_limit_window_seconds": 0.5, "send_retry_after": True},
            ) as env,
            httpx.Client(base_url=env.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        ):
            answers = [http.get("/crm/v3/owners") for _ in range(4)]
            assert [a.status_code for a in answers] == [200, 200, 200, 429]
            assert answers[2].headers["X-HubSpot-RateLimit-Remaining"] == "0"
            assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "3"
            assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "500"
            body = answers[3].json()
            assert_hubspot_error(body, "RATE_LIMIT")
            assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
            assert 0 < float(answers[3].headers["Retry-After"]) <= 0.5
            # v4 association batch endpoints are exempt from the ten-secondly bucket
            assert (
                http.post("/crm/v4/associations/deals/companies/batch/create", json={"inputs": []}).status_code == 201
            )
            time.sleep(0.55)
            assert http.get("/crm/v3/owners").status_code == 200

    def test_scripted_faults_via_state(self, http: httpx.Client, hs_env: HubSpotEnv) -> None:
        hs_env.control.add_fault(Fault(kind=FaultKind.rate_limit, retry_after=7, extra={"policy": "DAILY"}))
        hs_env.control.add_fault(Fault(kind=FaultKind.server_error, status=503, path="/owners"))
        r = http.get("/crm/v3/pipelines/deals")
        assert r.status_code == 429 and r.headers["Retry-After"] == "7" and r.json()["policyName"] == "DAILY"
        assert http.get("/crm/v3/owners").status_code == 503
        assert http.get("/crm/v3/owners").status_code == 200
        assert hs_env.control.call_count("/crm/v3/owners") == 2

    def test_pipeline_stage_metadata(self, http: httpx.Client) -> None:
        stages = {s["id"]: s["metadata"] for s in http.get("/crm/v3/pipelines/deals").json()["results"][0]["stages"]}
        assert stages["closedwon"] == {"isClosed": "true", "probability": "1.0"}
        assert stages["closedlost"] == {"isClosed": "true", "probability": "0.0"}
        assert stages["qualifiedtobuy"]["isClosed"] == "false"


class TestMountingAndControl:
    def test_mounted_in_another_app_with_http_control(self) -> None:
        sandbox, state = create_hubspot_sandbox(HubSpotSandboxConfig(tokens=(TOKEN,)))
        outer = FastAPI()
        outer.mount("/sandbox/hubspot", sandbox)
        server = SandboxServer(outer).start()
        control = HubSpotSandboxClient(server.url + "/sandbox/hubspot")
        try:
            base = server.url + "/sandbox/hubspot"
            adapter = HubSpotAdapter(adapter_config(base))
            assert len(adapter.setup()) == 10
            companies = control.seed_demo()
            control.add_fault(Fault(kind=FaultKind.server_error, path="/crm/v3/owners"))
            record = make_record(1, companies[0])
            with pytest.raises(Retryable) as info:
                adapter.upsert_opportunities([record])
            assert info.value.status == 500
            [result] = adapter.upsert_opportunities([record])
            assert result.ok
            [opp] = control.opportunities()
            assert state.opportunities() == [opp]  # the in-process state is the mounted app's state
            assert opp.account_crm_id == companies[0] and opp.opportunity_id == record.opportunity_id
            control.set_stage(opp.crm_id, "closedwon", 10.0)
            assert [o.status for o in adapter.pull_outcomes([record.opportunity_id])] == ["won"]
            assert control.call_count("/crm/v3/owners") == 2
            assert control.drain_webhook_events()[-1]["propertyName"] in ("dealstage", "amount")
            control.reset()
            assert control.opportunities() == []
        finally:
            control.close()
            server.stop()

    def test_seed_demo_is_idempotent(self) -> None:
        _, state = create_hubspot_sandbox()
        first = seed_demo(state)
        assert seed_demo(state) == first and len(state.companies) == len(first)
        assert all(state.companies[c].properties.get("hubspot_owner_id") for c in first)
