"""The sandboxes are as strict as the real CRMs, item by item (issue 12), and the adapters cope with it.

Each test names the vendor rule it checks; the source of each rule is cited next to the sandbox code.
Everything runs over HTTP with the vendors' SDKs in their strictest settings.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import requests

from integrations.base import Rejected
from integrations.salesforce.adapter import SalesforceHttpSession
from integrations.salesforce.setup import custom_field_specs
from integrations.sandbox.hubspot_state import HubSpotSandboxState
from integrations.sandbox.salesforce_server import run_salesforce_sandbox
from schemas.crm import DuplicateClosure, OpportunityRecord
from tests.integration.hubspot_env import TOKEN, HubSpotEnv, hubspot_env
from tests.integration.salesforce_env import SalesforceEnv, make_env, opportunity, salesforce_env
from tests.integration.test_crm_conformance import make_record, seed

UPSERT = "/crm/v3/objects/deals/batch/upsert"
CREATE = "/crm/v3/objects/deals/batch/create"


def _http(env: HubSpotEnv) -> httpx.Client:
    return httpx.Client(base_url=env.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def _deal_input(key: str, trace: str, **props: str) -> dict[str, Any]:
    base = {"dealname": f"Deal {key}", "dealstage": "appointmentscheduled", "signal_pipeline_opportunity_id": key}
    return {"properties": {**base, **props}, "objectWriteTraceId": trace}


class TestHubSpotBatchErrors:
    def test_a_207_in_the_real_shape_lands_the_good_records_and_rejects_the_bad_ones_with_vendor_codes(
        self, hs_env: HubSpotEnv
    ) -> None:
        # The real 207 entry has no `links`; hubspot-api-client 12 in strict mode refuses such an entry, and
        # before the adapter read batch answers itself the whole batch came back as a retryable
        # MALFORMED_RESPONSE, to be retried forever.
        account, owner = seed(hs_env)
        records = [
            make_record(i, account, owner, currency="JPY" if i in (3, 50, 97) else "EUR")
            for i in range(hs_env.adapter.batch_size)
        ]

        results = hs_env.adapter.upsert_opportunities(records)

        bad = [r for r in results if not r.ok]
        assert [r.opportunity_id for r in bad] == [records[i].opportunity_id for i in (3, 50, 97)]
        assert all(r.error_code == "INVALID_OPTION" and r.error_field == "deal_currency_code" for r in bad)
        assert sum(r.ok for r in results) == 97
        assert len(hs_env.control.opportunities()) == 97
        assert hs_env.control.call_count(CREATE) == 1  # read once, not bisected, not retried

    def test_a_207_entry_carries_no_links_and_its_code_only_inside_the_message(self, hs_env: HubSpotEnv) -> None:
        with _http(hs_env) as http:
            r = http.post(CREATE, json={"inputs": [_deal_input("k1", "t1", deal_currency_code="BRL")]})
        assert r.status_code == 207
        [err] = r.json()["errors"]
        assert set(err) == {"status", "category", "message", "context"}
        assert err["category"] == "VALIDATION_ERROR" and '"error":"INVALID_OPTION"' in err["message"]
        assert '"name":"deal_currency_code"' in err["message"]


class TestHubSpotPropertyRules:
    def test_deal_currency_must_be_one_of_the_portals_currencies(self, hs_env: HubSpotEnv) -> None:
        with _http(hs_env) as http:
            ok = http.post(CREATE, json={"inputs": [_deal_input("k1", "t1", deal_currency_code="EUR")]})
            refused = http.post(CREATE, json={"inputs": [_deal_input("k2", "t2", deal_currency_code="BRL")]})
        assert ok.status_code == 201
        assert refused.status_code == 207 and "is not a part of the current effective currency codes" in str(
            refused.json()["errors"][0]["message"]
        )

    def test_a_text_value_longer_than_65536_characters_is_refused(self, hs_env: HubSpotEnv) -> None:
        with _http(hs_env) as http:
            at_limit = http.post(CREATE, json={"inputs": [_deal_input("k1", "t1", description="x" * 65_536)]})
            over = http.post(CREATE, json={"inputs": [_deal_input("k2", "t2", description="x" * 65_537)]})
        assert at_limit.status_code == 201
        assert over.status_code == 207 and '"name":"description"' in over.json()["errors"][0]["message"]

    def test_a_deal_without_its_required_properties_gets_hubspots_message_not_an_invented_code(
        self, hs_env: HubSpotEnv
    ) -> None:
        with _http(hs_env) as http:
            r = http.post(
                CREATE,
                json={"inputs": [{"properties": {"signal_pipeline_opportunity_id": "k1"}, "objectWriteTraceId": "t"}]},
            )
        [err] = r.json()["errors"]
        assert r.status_code == 207 and err["category"] == "VALIDATION_ERROR"
        assert err["message"] == "Error creating DEAL. Some required properties were not set."
        assert "REQUIRED_PROPERTY" not in str(err)

    def test_a_deal_deleted_by_a_seller_is_created_again_on_the_next_update(self, hs_env: HubSpotEnv) -> None:
        account, owner = seed(hs_env)
        record = make_record(1, account, owner)
        [first] = hs_env.adapter.upsert_opportunities([record])
        assert first.crm_id is not None
        hs_env.control.delete_deal(first.crm_id)

        [again] = hs_env.adapter.upsert_opportunities(
            [record.model_copy(update={"is_new": False, "crm_id": first.crm_id, "version": 2})]
        )

        assert again.ok and again.crm_id != first.crm_id
        [deal] = hs_env.control.opportunities()
        assert deal.properties["dealname"] == record.name


class TestHubSpotRateHeaders:
    def test_ratelimit_remaining_counts_down_on_every_kind_of_call(self, hs_env: HubSpotEnv) -> None:
        seen = []
        with _http(hs_env) as http:
            for _ in range(3):
                seen.append(int(http.get("/crm/v3/pipelines/deals").headers["X-HubSpot-RateLimit-Remaining"]))
            # search is exempt from the ten-secondly bucket, but the header still reports what that bucket has left
            search = http.post("/crm/v3/objects/companies/search", json={})
        assert seen == sorted(seen, reverse=True) and seen[0] > seen[-1]
        assert int(search.headers["X-HubSpot-RateLimit-Remaining"]) == seen[-1]
        assert search.headers["X-HubSpot-RateLimit-Secondly-Remaining"] == "4"


class TestHubSpotSearchLag:
    @staticmethod
    def _burst(state: HubSpotSandboxState, n: int) -> set[str]:
        return {state.seed_account(f"Company {i}", f"c{i}.example") for i in range(n)}

    def test_an_incremental_pull_misses_nothing_although_search_lags_out_of_order(self) -> None:
        lag = 0.6
        with hubspot_env(sandbox={"search_index_lag_seconds": lag}, search_index_lag_seconds=lag * 2) as env:
            since = datetime.now(UTC)
            created = self._burst(env.control, 30)
            time.sleep(lag * 0.4)  # part of the burst is searchable now, in no particular order
            first = list(env.adapter.pull_accounts(since))
            cursor = max(a.updated_at for a in first if a.updated_at)  # what pull.py keeps as its cursor
            time.sleep(lag)
            second = list(env.adapter.pull_accounts(cursor))
        assert 0 < len({a.crm_id for a in first}) < len(created)
        assert {a.crm_id for a in first} | {a.crm_id for a in second} == created

    def test_without_the_overlap_the_same_pull_skips_records(self) -> None:
        # Shows that the sandbox's lag is real: trusting "newest seen" as the cursor loses records.
        lag = 0.6
        with hubspot_env(sandbox={"search_index_lag_seconds": lag}, search_index_lag_seconds=0.0) as env:
            since = datetime.now(UTC)
            created = self._burst(env.control, 30)
            time.sleep(lag * 0.4)
            first = list(env.adapter.pull_accounts(since))
            cursor = max(a.updated_at for a in first if a.updated_at)
            time.sleep(lag)
            second = list(env.adapter.pull_accounts(cursor))
        assert {a.crm_id for a in first} | {a.crm_id for a in second} != created


# ---- Salesforce ---------------------------------------------------------------------------------------------

V = "/services/data/v62.0"


def _sf_http(env: SalesforceEnv) -> requests.Session:
    session = SalesforceHttpSession(10.0, env.sandbox.ca_file)  # trusts the sandbox CA whatever the environment
    session.headers["Authorization"] = f"Bearer {env.control.issue_token()}"
    return session


class TestSalesforceFieldLevelSecurity:
    def test_a_field_made_through_the_tooling_api_is_unusable_until_a_permission_set_grants_it(self) -> None:
        with run_salesforce_sandbox(opportunity_custom_fields={}) as sandbox:
            env = make_env(sandbox)
            with _sf_http(env) as http:
                for spec in custom_field_specs(env.config):
                    r = http.post(f"{sandbox.base_url}{V}/tooling/sobjects/CustomField", json=spec.tooling_body())
                    assert r.status_code == 201
                describe = http.get(f"{sandbox.base_url}{V}/sobjects/Opportunity/describe").json()
            assert env.config.fields.external_id not in {f["name"] for f in describe["fields"]}
            with pytest.raises(Rejected) as refused:
                env.adapter.upsert_opportunities([opportunity(1)])
            assert refused.value.code == "INVALID_FIELD"

            created = env.adapter.setup()  # grants access through a permission set assigned to the user

            assert "PermissionSetAssignment.Signal_Pipeline_Integration" in created
            assert env.adapter.upsert_opportunities([opportunity(1)])[0].ok

    def test_setup_without_the_right_to_assign_permission_sets_is_a_clear_setup_error(self) -> None:
        with run_salesforce_sandbox(opportunity_custom_fields={}, can_manage_permissions=False) as sandbox:
            env = make_env(sandbox)
            with pytest.raises(Rejected) as failed:
                env.adapter.setup()
        assert failed.value.code == "FIELD_PERMISSION_MISSING"
        assert "Signal_Pipeline_Integration" in str(failed.value)


class TestSalesforceRecordRules:
    def test_an_inactive_owner_is_refused_with_inactive_owner_or_user(self) -> None:
        with salesforce_env() as env, _sf_http(env) as http:
            owner = env.control.seed_user("gone@example.com", active=False)
            record = {
                "attributes": {"type": "Opportunity"},
                "Name": "Expansion",
                "StageName": "Prospecting",
                "CloseDate": "2026-01-01",
                "OwnerId": owner,
            }
            r = http.post(f"{env.sandbox.base_url}{V}/composite/sobjects", json={"records": [record]})
        [item] = r.json()
        assert item["success"] is False and item["errors"][0]["statusCode"] == "INACTIVE_OWNER_OR_USER"

    def test_an_invalid_email_is_refused_with_invalid_email_address(self) -> None:
        with salesforce_env() as env:
            [result] = env.adapter.upsert_opportunities([opportunity(1, contributors=("dana@localhost",))])
        assert result.error_code == "INVALID_EMAIL_ADDRESS"
        assert result.error_field == env.config.fields.originator_email

    def test_a_value_longer_than_the_field_is_refused_with_string_too_long(self) -> None:
        with salesforce_env() as env, _sf_http(env) as http:
            record = {
                "attributes": {"type": "Opportunity"},
                "Name": "x" * 121,  # Opportunity.Name holds 120 characters
                "StageName": "Prospecting",
                "CloseDate": "2026-01-01",
            }
            r = http.post(f"{env.sandbox.base_url}{V}/composite/sobjects", json={"records": [record]})
        [item] = r.json()
        assert r.status_code == 200 and item["success"] is False
        assert item["errors"][0]["statusCode"] == "STRING_TOO_LONG" and item["errors"][0]["fields"] == ["Name"]


class TestSalesforceTeamSelling:
    def test_team_selling_is_off_by_default_and_credit_still_reaches_the_opportunity(self) -> None:
        with salesforce_env() as env:
            ada = env.control.seed_user("ada@example.com")
            with _sf_http(env) as http:
                describe = http.get(f"{env.sandbox.base_url}{V}/sobjects/OpportunityTeamMember/describe")
            assert describe.status_code == 404

            [result] = env.adapter.upsert_opportunities([opportunity(1, contributors=("ada@example.com", "bo@x.se"))])

            assert result.ok and ada
            assert env.control.team_members() == []
            [opp] = env.control.opportunities()
            assert opp.properties[env.config.fields.contributors] == "ada@example.com;bo@x.se"
            assert not env.adapter.team_selling_enabled()

    def test_with_team_selling_contributors_who_are_users_join_the_team(self) -> None:
        with salesforce_env() as env:
            env.control.enable_team_selling()
            ada = env.control.seed_user("ada@example.com")
            env.adapter.upsert_opportunities([opportunity(1, contributors=("ada@example.com",))])
            assert [t["UserId"] for t in env.control.team_members()] == [ada]


class TestOwnerFallback:
    """An inactive CRM owner falls back to the account owner, then to the configured default owner."""

    @staticmethod
    def _record(owner: str | None, account_owner: str | None, account: str | None) -> OpportunityRecord:
        return make_record(1, account, owner).model_copy(update={"account_owner_crm_id": account_owner})

    def test_salesforce_inactive_owner_falls_back_to_the_account_owner_then_the_default(self) -> None:
        with salesforce_env() as env:
            gone = env.control.seed_user("gone@example.com", active=False)
            keeper = env.control.seed_user("keeper@example.com")
            default = env.control.seed_user("sales.ops@example.com")
            account = env.control.seed_account("Northwind", "northwind.example")
            env.adapter.config = replace(env.config, default_owner_id=default)

            [to_account_owner] = env.adapter.upsert_opportunities([self._record(gone, keeper, account)])
            [to_default] = env.adapter.upsert_opportunities(
                [self._record(gone, gone, account).model_copy(update={"opportunity_id": "opp-2"})]
            )

            owners = {o.opportunity_id: o.owner_crm_id for o in env.control.opportunities()}
        assert to_account_owner.ok and to_default.ok
        assert owners == {"opp-00001": keeper, "opp-2": default}

    def test_hubspot_archived_owner_falls_back_to_the_default_owner(self) -> None:
        with hubspot_env() as env:
            account, owner = seed(env)
            default = env.control.seed_user("sales.ops@example.com")
            env.control.archive_owner(owner)
            adapter = env.make_adapter(default_owner_id=default)

            [result] = adapter.upsert_opportunities([self._record(owner, owner, account)])

            assert result.ok and result.crm_id is not None
            deal = env.control.opportunity(result.crm_id)
            assert deal is not None and deal.owner_crm_id == default


# ---- merges (item 7) ---------------------------------------------------------------------------------------

MERGE = "/crm/v3/objects/deals/merge"


class TestHubSpotDealsMerge:
    """POST /crm/v3/objects/deals/merge as HubSpot answers it, and the adapter's use of it through the SDK."""

    def _two_deals(self, env: HubSpotEnv) -> tuple[str, str, str]:
        account, owner = seed(env)
        results = env.adapter.upsert_opportunities([make_record(1, account, owner), make_record(2, account, owner)])
        keep, dup = (str(r.crm_id) for r in results)
        return keep, dup, account

    def test_the_merge_creates_a_new_deal_that_both_old_ids_read_as(self, hs_env: HubSpotEnv) -> None:
        keep, dup, account = self._two_deals(hs_env)
        with _http(hs_env) as http:
            r = http.post(MERGE, json={"primaryObjectId": keep, "objectIdToMerge": dup})
            merged = r.json()["id"]
            reads = http.post(
                "/crm/v3/objects/deals/batch/read",
                json={"inputs": [{"id": keep}, {"id": dup}], "properties": ["hs_merged_object_ids"]},
            ).json()["results"]
        assert r.status_code == 200 and merged not in (keep, dup)
        assert {x["id"] for x in reads} == {merged}
        assert set(reads[0]["properties"]["hs_merged_object_ids"].split(";")) == {keep, dup}
        [deal] = hs_env.control.opportunities()
        assert deal.crm_id == merged and deal.opportunity_id == "opp-00001"  # the primary's values win
        assert deal.account_crm_id == account  # associations carried over

    def test_merge_refuses_a_missing_field_an_unknown_id_and_a_deal_with_itself(self, hs_env: HubSpotEnv) -> None:
        keep, dup, _ = self._two_deals(hs_env)
        with _http(hs_env) as http:
            missing = http.post(MERGE, json={"primaryObjectId": keep})
            as_number = http.post(MERGE, json={"primaryObjectId": int(keep), "objectIdToMerge": dup})
            unknown = http.post(MERGE, json={"primaryObjectId": keep, "objectIdToMerge": "999"})
            itself = http.post(MERGE, json={"primaryObjectId": keep, "objectIdToMerge": keep})
        assert missing.status_code == 400 and as_number.status_code == 400
        assert unknown.status_code == 404 and unknown.json()["category"] == "OBJECT_NOT_FOUND"
        assert itself.status_code == 400 and itself.json()["category"] == "VALIDATION_ERROR"
        assert len(hs_env.control.opportunities()) == 2

    def test_the_adapter_merges_once_and_a_retry_after_a_lost_answer_is_done_not_refused(
        self, hs_env: HubSpotEnv
    ) -> None:
        keep, dup, _ = self._two_deals(hs_env)
        closure = DuplicateClosure(
            opportunity_id="opp-00002", crm_id=dup, survivor_opportunity_id="opp-00001", survivor_crm_id=keep
        )

        [first] = hs_env.adapter.close_duplicates([closure])
        [again] = hs_env.adapter.close_duplicates([closure])  # as after a timeout once the merge committed

        assert first.ok and again.ok and first.survivor_crm_id == again.survivor_crm_id
        [deal] = hs_env.control.opportunities()
        assert deal.crm_id == first.survivor_crm_id and deal.opportunity_id == "opp-00001"
        assert hs_env.control.call_count(MERGE) == 2


class TestSalesforceDuplicateClosing:
    def test_a_merged_away_opportunity_is_closed_lost_as_a_duplicate_with_a_lookup_to_the_survivor(self) -> None:
        with salesforce_env() as env:
            keep, dup = (r.crm_id for r in env.adapter.upsert_opportunities([opportunity(1), opportunity(2)]))
            assert keep and dup
            closure = DuplicateClosure(
                opportunity_id="opp-00002", crm_id=dup, survivor_opportunity_id="opp-00001", survivor_crm_id=keep
            )

            [result] = env.adapter.close_duplicates([closure])

            assert result.ok and result.survivor_crm_id == keep
            rows = {o.crm_id: o.properties for o in env.control.opportunities()}
            f = env.config.fields
            assert rows[dup]["StageName"] == "Closed Lost" and rows[dup]["IsClosed"] and not rows[dup]["IsWon"]
            assert rows[dup][f.loss_reason] == "Duplicate" and rows[dup][f.duplicate_of] == keep
            assert rows[keep]["IsClosed"] is False

    def test_the_lookup_must_name_an_existing_opportunity_and_an_update_needs_an_id(self) -> None:
        with salesforce_env() as env, _sf_http(env) as http:
            [dup] = (r.crm_id for r in env.adapter.upsert_opportunities([opportunity(2)]))
            f = env.config.fields
            records = [
                {"attributes": {"type": "Opportunity"}, "Id": dup, f.duplicate_of: "006000000000999AAA"},
                {"attributes": {"type": "Opportunity"}, "StageName": "Closed Lost"},
                {"attributes": {"type": "Opportunity"}, "Id": "006000000000998AAA", "StageName": "Closed Lost"},
            ]
            r = http.patch(f"{env.sandbox.base_url}{V}/composite/sobjects", json={"records": records})
        codes = [item["errors"][0]["statusCode"] for item in r.json()]
        assert codes == ["INVALID_CROSS_REFERENCE_KEY", "MISSING_ARGUMENT", "ENTITY_IS_DELETED"]

    def test_setup_creates_the_duplicate_lookup_and_grants_access_to_it(self) -> None:
        with run_salesforce_sandbox(opportunity_custom_fields={}) as sandbox:
            env = make_env(sandbox)
            created = env.adapter.setup()
            f = env.config.fields
            assert (
                f"Opportunity.{f.duplicate_of}" in created
                and f"FieldPermissions.Opportunity.{f.duplicate_of}" in created
            )
            spec = sandbox.state.schema["Opportunity"][f.duplicate_of]
            assert spec.type == "reference" and spec.reference_to == "Opportunity"
