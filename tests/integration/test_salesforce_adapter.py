"""The Salesforce adapter over real HTTPS against the sandbox, driven by the real simple-salesforce."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from integrations.base import (
    AuthExpired,
    CRMAdapter,
    RateLimited,
    RawRequest,
    Rejected,
    Retryable,
    WebhookRejected,
)
from integrations.salesforce.setup import custom_field_specs, sandbox_field_types
from integrations.sandbox.control import Fault, FaultKind
from integrations.sandbox.salesforce_server import RunningSalesforceSandbox, run_salesforce_sandbox
from integrations.sandbox.salesforce_state import OpportunityStage
from schemas.crm import OutcomeStatus
from tests.integration.salesforce_env import SalesforceConfig, SalesforceEnv, make_env, opportunity

V = "/services/data/v62.0"
UPSERT = f"{V}/composite/sobjects/Opportunity/Signal_Pipeline_Id__c"
COMPOSITE = f"{V}/composite"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSalesforceSandbox]:
    with run_salesforce_sandbox(opportunity_custom_fields=sandbox_field_types(SalesforceConfig())) as sb:
        yield sb


@pytest.fixture
def env(sandbox: RunningSalesforceSandbox) -> SalesforceEnv:
    sandbox.state.reset()
    return make_env(sandbox)


def by_ext(env: SalesforceEnv) -> dict[str | None, dict[str, object]]:
    return {o.opportunity_id: o.properties for o in env.control.opportunities()}


class TestProtocol:
    def test_adapter_implements_the_crm_adapter_protocol(self, env: SalesforceEnv) -> None:
        assert isinstance(env.adapter, CRMAdapter)
        assert env.adapter.batch_size == 200

    def test_webhooks_are_rejected_as_not_supported(self, env: SalesforceEnv) -> None:
        with pytest.raises(WebhookRejected, match="not supported"):
            env.adapter.verify_webhook(RawRequest("POST", "https://svc/webhooks/salesforce", {}, b"{}"))


class TestUpsert:
    def test_201_new_records_take_two_calls_of_at_most_200(self, env: SalesforceEnv) -> None:
        acct = env.control.seed_account("Acme", "acme.com", "owner@acme.com")
        records = [opportunity(i, account=acct) for i in range(201)]
        list(env.adapter.pull_users(None))  # the directory sync fills the user cache; not part of the count
        before = env.control.call_count(V)

        results = env.adapter.upsert_opportunities(records)

        assert env.control.call_count(V) - before == 2
        assert env.control.call_count(COMPOSITE) == 2
        assert [r.opportunity_id for r in results] == [r.opportunity_id for r in records]
        assert all(r.ok and r.created for r in results)
        assert len(env.control.opportunities()) == 201

    def test_201_known_records_take_two_owned_field_upserts(self, env: SalesforceEnv) -> None:
        first = env.adapter.upsert_opportunities([opportunity(i) for i in range(201)])
        known = [opportunity(i, is_new=False, crm_id=r.crm_id, signal_count=2) for i, r in enumerate(first)]
        before = env.control.call_count(V)

        results = env.adapter.upsert_opportunities(known)

        assert env.control.call_count(V) - before == 2
        assert env.control.call_count(UPSERT) == 2
        assert all(r.ok and not r.created for r in results)
        assert {p["Signal_Count__c"] for p in by_ext(env).values()} == {2.0}

    def test_same_records_twice_make_one_opportunity_each(self, env: SalesforceEnv) -> None:
        records = [opportunity(i) for i in range(5)]
        first = env.adapter.upsert_opportunities(records)
        second = env.adapter.upsert_opportunities(records)  # still "new" locally: ids were never stored

        assert [r.crm_id for r in first] == [r.crm_id for r in second]
        assert not any(r.created for r in second)
        assert len(env.control.opportunities()) == 5

    def test_duplicate_ids_in_one_batch_get_the_same_result(self, env: SalesforceEnv) -> None:
        results = env.adapter.upsert_opportunities([opportunity(1), opportunity(1, version=2, signal_count=3)])
        assert len(results) == 2
        assert results[0].crm_id == results[1].crm_id
        assert by_ext(env)["opp-00001"]["Signal_Count__c"] == 3.0

    def test_new_opportunity_gets_seller_fields_from_account_owner_and_config(self, env: SalesforceEnv) -> None:
        acct = env.control.seed_account("Acme", "acme.com", "owner@acme.com")
        owner = env.control.seed_user("owner@acme.com")
        [result] = env.adapter.upsert_opportunities([opportunity(1, account=acct, owner=owner)])

        props = by_ext(env)["opp-00001"]
        assert props["AccountId"] == acct
        assert props["OwnerId"] == owner
        assert props["StageName"] == "Prospecting"
        assert props["Name"] == "Opportunity 1"
        assert props["Signal_Originator_Email__c"] == "ada@example.com"
        assert props["Signal_Kinds__c"] == "expansion"
        assert props["Signal_First_Seen__c"] == "2025-01-02T03:04:05.000+0000"
        assert result.url is not None and result.url.endswith(f"/lightning/r/Opportunity/{result.crm_id}/view")

    def test_seller_fields_are_never_overwritten_after_create(self, env: SalesforceEnv) -> None:
        acct = env.control.seed_account("Acme", "acme.com", "owner@acme.com")
        [created] = env.adapter.upsert_opportunities([opportunity(1, account=acct)])
        assert created.crm_id is not None
        seller = env.control.seed_user("seller@acme.com")
        seller_edit = {"Name": "Acme renewal 2026", "CloseDate": "2026-06-30", "OwnerId": seller}
        env.control.update_record("Opportunity", created.crm_id, seller_edit)
        env.control.set_stage(created.crm_id, "Negotiation/Review", amount=5000)

        later = opportunity(1, account=acct, is_new=False, crm_id=created.crm_id, signal_count=4, name="Renamed")
        env.adapter.upsert_opportunities([later])

        props = by_ext(env)["opp-00001"]
        assert props["StageName"] == "Negotiation/Review"
        assert props["Amount"] == 5000.0
        assert props["Name"] == "Acme renewal 2026"
        assert props["CloseDate"] == "2026-06-30"
        assert props["OwnerId"] == seller
        assert props["Signal_Count__c"] == 4.0

    def test_close_date_defaults_to_today_plus_offset(self, sandbox: RunningSalesforceSandbox) -> None:
        sandbox.state.reset()
        env = make_env(sandbox, close_date_offset_days=30)
        env.adapter.upsert_opportunities([opportunity(1)])
        close = by_ext(env)["opp-00001"]["CloseDate"]
        assert close == (env.adapter._today() + timedelta(days=30)).isoformat()

    def test_one_rejected_record_of_100_keeps_its_code_and_the_rest_succeed(self, env: SalesforceEnv) -> None:
        env.control.add_fault(
            Fault(
                FaultKind.reject_record,
                match="opp-00042",
                extra={"status_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "Customer ACME secret"},
            )
        )
        records = [opportunity(i) for i in range(100)]

        results = env.adapter.upsert_opportunities(records)

        failed = [r for r in results if not r.ok]
        assert [r.opportunity_id for r in failed] == ["opp-00042"]
        assert failed[0].error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        assert "ACME" not in (failed[0].error_message or "")  # never the vendor's message text
        assert [r.opportunity_id for r in results] == [r.opportunity_id for r in records]
        assert len(env.control.opportunities()) == 99

    def test_timeout_after_commit_then_retry_creates_no_duplicate_and_keeps_the_sellers_stage(
        self, sandbox: RunningSalesforceSandbox
    ) -> None:
        sandbox.state.reset()
        env = make_env(sandbox, timeout_seconds=0.5)
        env.adapter.upsert_opportunities([opportunity(0)])  # log in before arming the fault
        env.control.add_fault(Fault(FaultKind.timeout_after_commit, path="/composite", seconds=1.0))

        with pytest.raises(Retryable) as err:
            env.adapter.upsert_opportunities([opportunity(1)])
        assert err.value.code == "TIMEOUT"
        [committed] = [o for o in env.control.opportunities() if o.opportunity_id == "opp-00001"]
        env.control.set_stage(committed.crm_id, "Closed Won", amount=1200)

        [retried] = env.adapter.upsert_opportunities([opportunity(1, signal_count=2)])  # still "new" locally

        assert retried.ok and not retried.created and retried.crm_id == committed.crm_id
        props = by_ext(env)["opp-00001"]
        assert props["StageName"] == "Closed Won"
        assert props["Amount"] == 1200.0
        assert props["Signal_Count__c"] == 2.0
        assert [o.opportunity_id for o in env.control.opportunities()].count("opp-00001") == 1


class TestErrors:
    def test_request_limit_exceeded_is_rate_limited_not_rejected(self, env: SalesforceEnv) -> None:
        env.adapter.upsert_opportunities([opportunity(0)])
        env.control.add_fault(Fault(FaultKind.rate_limit))
        with pytest.raises(RateLimited) as err:
            env.adapter.upsert_opportunities([opportunity(1)])
        assert (err.value.status, err.value.code) == (403, "REQUEST_LIMIT_EXCEEDED")
        assert "TotalRequests" not in str(err.value)

    def test_exhausted_daily_allocation_is_rate_limited_and_usage_is_reported(self, env: SalesforceEnv) -> None:
        env.adapter.upsert_opportunities([opportunity(0)])
        assert env.adapter.api_usage["api-usage"].used == env.control.api_used
        env.control.daily_api_limit = env.control.api_used
        with pytest.raises(RateLimited):
            list(env.adapter.pull_accounts(None))

    def test_expired_session_is_refreshed_exactly_once(self, env: SalesforceEnv) -> None:
        env.adapter.upsert_opportunities([opportunity(0)])
        assert env.control.token_requests == 1
        env.control.add_fault(Fault(FaultKind.expired_session))

        [result] = env.adapter.upsert_opportunities([opportunity(1)])

        assert result.ok
        assert env.control.token_requests == 2

    def test_session_still_invalid_after_one_refresh_raises_auth_expired(self, env: SalesforceEnv) -> None:
        env.adapter.upsert_opportunities([opportunity(0)])
        env.control.add_fault(Fault(FaultKind.expired_session, times=5))
        with pytest.raises(AuthExpired):
            env.adapter.upsert_opportunities([opportunity(1)])
        assert env.control.token_requests == 2

    def test_direct_session_id_without_credentials_fails_loudly_on_expiry(
        self, sandbox: RunningSalesforceSandbox
    ) -> None:
        sandbox.state.reset()
        token = sandbox.state.issue_token()
        env = make_env(sandbox, client_id=None, client_secret=None, session_id=token, instance_url=sandbox.base_url)
        assert env.adapter.upsert_opportunities([opportunity(0)])[0].ok
        sandbox.state.expire_sessions()
        with pytest.raises(AuthExpired):
            env.adapter.upsert_opportunities([opportunity(1)])

    def test_configured_session_id_is_replaced_by_oauth_once_it_expires(
        self, sandbox: RunningSalesforceSandbox
    ) -> None:
        sandbox.state.reset()
        token = sandbox.state.issue_token()
        env = make_env(sandbox, session_id=token, instance_url=sandbox.base_url)
        assert env.adapter.upsert_opportunities([opportunity(0)])[0].ok
        assert env.adapter.login_count == 0
        sandbox.state.expire_sessions()
        assert env.adapter.upsert_opportunities([opportunity(1)])[0].ok
        assert env.adapter.login_count == 1

    def test_server_error_is_retryable(self, env: SalesforceEnv) -> None:
        env.control.add_fault(Fault(FaultKind.server_error, status=503))
        with pytest.raises(Retryable) as err:
            env.adapter.upsert_opportunities([opportunity(1)])
        assert err.value.status == 503

    def test_unable_to_lock_row_on_a_record_is_retryable(self, env: SalesforceEnv) -> None:
        env.control.add_fault(
            Fault(FaultKind.reject_record, match="opp-00002", extra={"status_code": "UNABLE_TO_LOCK_ROW"})
        )
        with pytest.raises(Retryable) as err:
            env.adapter.upsert_opportunities([opportunity(i) for i in range(3)])
        assert err.value.code == "UNABLE_TO_LOCK_ROW"
        results = env.adapter.upsert_opportunities([opportunity(i) for i in range(3)])
        assert all(r.ok for r in results)
        assert len(env.control.opportunities()) == 3

    def test_error_for_a_whole_request_carries_status_and_code_only(self, env: SalesforceEnv) -> None:
        env.control.add_fault(
            Fault(FaultKind.server_error, status=400, extra={"error_code": "INVALID_FIELD", "message": "ACME secret"})
        )
        with pytest.raises(Rejected) as err:
            env.adapter.upsert_opportunities([opportunity(1)])
        assert (err.value.status, err.value.code) == (400, "INVALID_FIELD")
        assert "ACME" not in str(err.value)
        assert err.value.__cause__ is None and err.value.__suppress_context__


class TestTeamMembers:
    def test_contributors_who_are_users_become_team_members_once(self, env: SalesforceEnv) -> None:
        env.control.enable_team_selling()
        ada = env.control.seed_user("ada@example.com")
        bob = env.control.seed_user("Bob@Example.com")
        records = [opportunity(1, contributors=("ada@example.com", "bob@example.com", "carol@outside.example"))]

        env.adapter.upsert_opportunities(records)
        env.adapter.upsert_opportunities(records)
        fresh = make_env(env.sandbox)  # a restarted worker: no in-process memory of team rows
        fresh.adapter.upsert_opportunities(records)

        team = env.control.team_members()
        assert sorted(str(t["UserId"]) for t in team) == sorted([ada, bob])
        assert {t["TeamMemberRole"] for t in team} == {"Signal Contributor"}
        [opp] = env.control.opportunities()
        assert sorted(opp.collaborator_ids) == sorted([ada, bob])

    def test_team_rows_are_not_resent_by_the_same_worker(self, env: SalesforceEnv) -> None:
        env.control.enable_team_selling()
        env.control.seed_user("ada@example.com")
        env.adapter.upsert_opportunities([opportunity(1)])
        before = env.control.call_count(f"{V}/composite/sobjects")
        env.adapter.upsert_opportunities([opportunity(1, is_new=False, crm_id="x")])
        assert env.control.call_count(f"{V}/composite/sobjects") - before == 1  # the owned-fields upsert only


class TestBulk:
    def test_above_threshold_uses_bulk_api_and_keeps_seller_fields(self, sandbox: RunningSalesforceSandbox) -> None:
        sandbox.state.reset()
        env = make_env(sandbox, bulk_threshold=50)
        env.control.enable_team_selling()
        env.control.seed_user("ada@example.com")
        records = [opportunity(i) for i in range(60)]

        first = env.adapter.upsert_opportunities(records)

        assert all(r.ok and r.created for r in first)
        assert env.control.call_count(f"{V}/jobs/ingest") > 0
        assert env.control.call_count(UPSERT) == 0
        assert env.control.call_count(COMPOSITE) == env.control.call_count(f"{V}/composite/sobjects")  # team rows
        assert len(env.control.opportunities()) == 60
        assert len(env.control.team_members()) == 60
        env.control.set_stage(str(first[7].crm_id), "Closed Lost")

        again = env.adapter.upsert_opportunities([opportunity(i, signal_count=9) for i in range(60)])

        assert [r.crm_id for r in again] == [r.crm_id for r in first]
        assert not any(r.created for r in again)
        props = by_ext(env)
        assert props["opp-00007"]["StageName"] == "Closed Lost"
        assert {p["Signal_Count__c"] for p in props.values()} == {9.0}

    def test_bulk_failed_rows_come_back_with_their_code(self, sandbox: RunningSalesforceSandbox) -> None:
        sandbox.state.reset()
        env = make_env(sandbox, bulk_threshold=10)
        env.control.add_fault(Fault(FaultKind.reject_record, match="opp-00003", extra={"status_code": "X_INVALID"}))
        results = env.adapter.upsert_opportunities([opportunity(i) for i in range(20)])
        failed = [r for r in results if not r.ok]
        assert [(r.opportunity_id, r.error_code) for r in failed] == [("opp-00003", "X_INVALID")]


class TestReads:
    def test_outcomes_follow_isclosed_iswon_not_stage_labels(self, env: SalesforceEnv) -> None:
        env.control.add_stage(OpportunityStage("Signed (custom)", True, True, 100))
        env.control.add_stage(OpportunityStage("Won? No - dropped", True, False, 0))
        results = env.adapter.upsert_opportunities([opportunity(i) for i in range(4)])
        ids = [str(r.crm_id) for r in results]
        env.control.set_stage(ids[0], "Signed (custom)", amount=1000)
        env.control.set_stage(ids[1], "Won? No - dropped")
        env.control.set_stage(ids[2], "Closed Won", amount=250.5)

        outcomes = {o.opportunity_id: o for o in env.adapter.pull_outcomes([f"opp-{i:05d}" for i in range(4)])}

        assert outcomes["opp-00000"].status is OutcomeStatus.won
        assert outcomes["opp-00000"].amount == Decimal("1000.0")
        assert outcomes["opp-00001"].status is OutcomeStatus.lost
        assert outcomes["opp-00002"].status is OutcomeStatus.won
        assert outcomes["opp-00003"].status is OutcomeStatus.open
        assert outcomes["opp-00003"].stage == "Prospecting"
        assert outcomes["opp-00003"].close_date is not None

    def test_outcomes_since_return_only_changed_opportunities(self, env: SalesforceEnv) -> None:
        results = env.adapter.upsert_opportunities([opportunity(i) for i in range(3)])
        cursor = max(o.changed_at for o in env.adapter.pull_outcomes_since(None) if o.changed_at)
        env.control.set_stage(str(results[1].crm_id), "Closed Won")
        changed = [o.opportunity_id for o in env.adapter.pull_outcomes_since(cursor + timedelta(milliseconds=1))]
        assert changed == ["opp-00001"]

    def test_accounts_pull_incrementally_and_page_through_next_records_url(self, env: SalesforceEnv) -> None:
        ids = [env.control.seed_account(f"Acct {i}", f"acct{i}.com", f"owner{i}@acct.com") for i in range(5)]
        env.control.query_page_size = 2
        try:
            before = env.control.call_count(f"{V}/query")
            everything = list(env.adapter.pull_accounts(None))
            assert env.control.call_count(f"{V}/query") - before == 3  # 5 rows in pages of 2
            assert [a.crm_id for a in everything] == ids
            assert everything[0].domains == ("acct0.com",)
            assert everything[0].owner_email == "owner0@acct.com"
            cursor = max(a.updated_at for a in everything if a.updated_at)
            env.control.update_record("Account", ids[1], {"Name": "Acct 1 renamed"})

            changed = list(env.adapter.pull_accounts(cursor + timedelta(milliseconds=1)))
        finally:
            env.control.query_page_size = 2000
        assert [(a.crm_id, a.name) for a in changed] == [(ids[1], "Acct 1 renamed")]

    def test_users_pull_incrementally_and_inactive_users_leave_the_team_cache(self, env: SalesforceEnv) -> None:
        ada = env.control.seed_user("ada@example.com")
        users = list(env.adapter.pull_users(None))
        assert ada in {u.crm_id for u in users}
        cursor = max(parse for parse in (env.control.objects["User"][u.crm_id]["SystemModstamp"] for u in users))
        env.control.update_record("User", ada, {"IsActive": False})

        changed = list(env.adapter.pull_users(cursor + timedelta(milliseconds=1)))

        assert [(u.crm_id, u.active) for u in changed] == [(ada, False)]
        env.adapter.upsert_opportunities([opportunity(1)])
        assert env.control.team_members() == []


class TestSetup:
    def test_setup_creates_missing_fields_once(self) -> None:
        with run_salesforce_sandbox(opportunity_custom_fields={}) as sandbox:
            env = make_env(sandbox)
            created = env.adapter.setup()
            assert "Opportunity.Signal_Pipeline_Id__c" in created
            assert (
                len([c for c in created if c.startswith("Opportunity.")]) == len(custom_field_specs(env.config)) == 11
            )
            # fields made through the Tooling API need field-level security before anyone can write them
            assert "PermissionSet.Signal_Pipeline_Integration" in created
            assert "PermissionSetAssignment.Signal_Pipeline_Integration" in created
            assert env.adapter.setup() == []
            assert env.adapter.upsert_opportunities([opportunity(1)])[0].ok
