"""HubSpot adapter behaviour beyond the shared conformance suite, over HTTP against the sandbox."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from integrations.base import RateLimited, Rejected, Retryable
from integrations.hubspot import HubSpotAdapter
from integrations.sandbox.control import Fault, FaultKind
from integrations.sandbox.hubspot_state import Pipeline, Stage
from schemas.crm import ContributorCredit, OutcomeStatus
from tests.integration.hubspot_env import HubSpotEnv, adapter_config, free_port, hubspot_env
from tests.integration.test_crm_conformance import as_existing, make_record, seed

OWN = "signal_pipeline_"


def deal(env: HubSpotEnv, opportunity_id: str) -> dict[str, str]:
    opp = next(o for o in env.control.opportunities() if o.opportunity_id == opportunity_id)
    return opp.properties


class TestSetup:
    def test_creates_group_and_properties_once(self) -> None:
        with hubspot_env(setup=False) as env:
            created = env.adapter.setup()
            again = env.adapter.setup()

            assert created[0] == "group:signal_pipeline"
            assert f"{OWN}opportunity_id" in created and len(created) == 10
            assert again == []
            key = env.control.deal_properties[f"{OWN}opportunity_id"]
            assert key.has_unique_value and key.group_name == "signal_pipeline"

    def test_refuses_an_existing_non_unique_key_property(self) -> None:
        with hubspot_env(setup=False) as env:
            env.control.create_group({"name": "signal_pipeline", "label": "x"})
            env.control.create_property(
                {
                    "name": f"{OWN}opportunity_id",
                    "label": "x",
                    "type": "string",
                    "fieldType": "text",
                    "groupName": "signal_pipeline",
                }
            )

            with pytest.raises(Rejected) as info:
                env.adapter.setup()

            assert info.value.code == "PROPERTY_NOT_UNIQUE"

    def test_refuses_an_unknown_initial_stage(self) -> None:
        with hubspot_env(setup=False, initial_stage_id="no-such-stage") as env, pytest.raises(Rejected) as info:
            env.adapter.setup()
        assert info.value.code == "STAGE_NOT_FOUND"


class TestCreate:
    def test_new_deal_carries_seller_fields_owner_collaborators_and_our_properties(self, hs_env: HubSpotEnv) -> None:
        account, owner = seed(hs_env)
        dana = hs_env.control.seed_user("dana.delivery@example.com")
        record = make_record(1, account, owner)

        [result] = hs_env.adapter.upsert_opportunities([record])

        props = deal(hs_env, record.opportunity_id)
        assert result.created and result.url == f"{hs_env.base_url}/_sandbox/deals/{result.crm_id}"
        assert props["dealname"] == record.name
        assert props["pipeline"] == "default" and props["dealstage"] == "appointmentscheduled"
        assert props["amount"] == "1200.50" and props["deal_currency_code"] == "EUR"
        assert props["closedate"].startswith("2025-04-30")
        assert props["hubspot_owner_id"] == owner
        assert props["hs_all_collaborator_owner_ids"] == dana  # sam.support is not a HubSpot user
        assert props[f"{OWN}originator_email"] == "dana.delivery@example.com"
        assert props[f"{OWN}originator_function"] == "delivery"
        assert props[f"{OWN}contributors"] == "dana.delivery@example.com;sam.support@example.com"
        assert props[f"{OWN}contributor_functions"] == "delivery;support"
        assert props[f"{OWN}signal_count"] == "2"
        assert props[f"{OWN}kinds"] == "expansion;new_use_case"
        assert props[f"{OWN}first_seen_at"] == "2025-03-01T09:30:00.000Z"
        assert props[f"{OWN}source_links"] == "https://tickets.example.com/T-1"
        assert hs_env.control.deal_companies(result.crm_id) == {(account, 5), (account, 341)}

    def test_duplicate_ids_in_one_call_become_one_deal(self, hs_env: HubSpotEnv) -> None:
        account, owner = seed(hs_env)
        older = make_record(1, account, owner)
        newer = older.model_copy(update={"version": 2, "signal_count": 7})

        results = hs_env.adapter.upsert_opportunities([older, newer])

        assert len(hs_env.control.opportunities()) == 1
        assert results[0].crm_id == results[1].crm_id
        assert deal(hs_env, older.opportunity_id)[f"{OWN}signal_count"] == "7"

    def test_calls_stay_within_two_per_hundred(self, hs_env: HubSpotEnv) -> None:
        account, owner = seed(hs_env)
        hs_env.adapter.upsert_opportunities([make_record(0, account, owner, prefix="warm")])
        n = 250
        records = [make_record(i, account, owner) for i in range(n)]
        before = hs_env.control.call_count()

        created = hs_env.adapter.upsert_opportunities(records)
        create_calls = hs_env.control.call_count() - before
        existing = [as_existing(r, res, signal_count=9) for r, res in zip(records, created, strict=True)]
        before = hs_env.control.call_count()
        hs_env.adapter.upsert_opportunities(existing)
        warm_update_calls = hs_env.control.call_count() - before
        before = hs_env.control.call_count()
        HubSpotAdapter(hs_env.config).upsert_opportunities(existing)  # a freshly started worker
        cold_update_calls = hs_env.control.call_count() - before
        owner_directory_calls = 1  # one owners page, cached for owner_cache_seconds

        floor = 2 * math.ceil(n / 100)
        assert create_calls == math.ceil(n / 100)  # associations go inline with the create
        assert warm_update_calls == math.ceil(n / 100)  # pairs already asserted by this process
        assert cold_update_calls - owner_directory_calls == floor  # upsert + association re-assertion
        assert len(hs_env.control.opportunities()) == n + 1


class TestUpdate:
    def test_existing_deal_gets_only_our_properties(self, hs_env: HubSpotEnv) -> None:
        account, owner = seed(hs_env)
        other_owner = hs_env.control.seed_user("owner.two@example.com")
        record = make_record(1, account, owner)
        [first] = hs_env.adapter.upsert_opportunities([record])
        hs_env.control.set_deal_properties(
            first.crm_id,
            dealname="Seller's name",
            dealstage="contractsent",
            amount="5000",
            closedate="2025-12-31T00:00:00.000Z",
            hubspot_owner_id=other_owner,
        )
        seller_view = {
            k: deal(hs_env, record.opportunity_id)[k]
            for k in ("dealname", "dealstage", "amount", "closedate", "hubspot_owner_id")
        }
        extra = ContributorCredit(email="eve.eng@example.com", function="engineering", role="co_contributor")

        [second] = hs_env.adapter.upsert_opportunities(
            [
                as_existing(
                    record,
                    first,
                    name="Ours",
                    amount=Decimal("1"),
                    owner_crm_id=owner,
                    signal_count=3,
                    contributors=(*record.contributors, extra),
                )
            ]
        )

        props = deal(hs_env, record.opportunity_id)
        assert second.ok and not second.created and second.crm_id == first.crm_id
        assert {k: props[k] for k in seller_view} == seller_view
        assert props[f"{OWN}signal_count"] == "3"
        assert props[f"{OWN}contributor_functions"] == "delivery;engineering;support"

    def test_changed_company_is_associated(self, hs_env: HubSpotEnv) -> None:
        account, owner = seed(hs_env)
        other = hs_env.control.seed_account("Contoso", "contoso.example", "owner.one@example.com")
        record = make_record(1, account, owner)
        [first] = hs_env.adapter.upsert_opportunities([record])

        hs_env.adapter.upsert_opportunities([as_existing(record, first, account_crm_id=other)])

        assert (other, 5) in hs_env.control.deal_companies(first.crm_id)
        assert next(o for o in hs_env.control.opportunities()).account_crm_id == other

    def test_deal_deleted_in_hubspot_is_created_again_with_seller_fields(self, hs_env: HubSpotEnv) -> None:
        account, owner = seed(hs_env)
        record = make_record(1, account, owner)
        [first] = hs_env.adapter.upsert_opportunities([record])
        hs_env.control.delete_deal(first.crm_id)

        [again] = hs_env.adapter.upsert_opportunities([as_existing(record, first)])

        assert again.ok and again.created and again.crm_id != first.crm_id
        assert deal(hs_env, record.opportunity_id)["dealname"] == record.name
        assert hs_env.control.deal_companies(again.crm_id) == {(account, 5), (account, 341)}


class TestPartialFailures:
    def test_whole_batch_400_is_bisected_to_the_bad_record(self, hs_env: HubSpotEnv) -> None:
        account, owner = seed(hs_env)
        records = [make_record(i, account, owner) for i in range(100)]
        bad = records[63].opportunity_id
        hs_env.control.add_fault(
            Fault(
                kind=FaultKind.reject_record,
                match=bad,
                times=1000,
                extra={"mode": "batch", "code": "INVALID_OPTION", "property": "dealname"},
            )
        )

        results = hs_env.adapter.upsert_opportunities(records)

        failed = [r for r in results if not r.ok]
        assert [r.opportunity_id for r in failed] == [bad]
        assert failed[0].error_code == "INVALID_OPTION" and failed[0].error_field == "dealname"
        assert len(hs_env.control.opportunities()) == 99

    def test_per_record_error_message_has_codes_not_body_text(self, hs_env: HubSpotEnv) -> None:
        account, owner = seed(hs_env)
        records = [make_record(i, account, owner) for i in range(3)]
        hs_env.control.add_fault(Fault(kind=FaultKind.reject_record, match=records[1].opportunity_id, times=9))

        results = hs_env.adapter.upsert_opportunities(records)

        assert results[1].error_code == "INVALID_OPTION"
        assert results[1].error_message == "HubSpot deals.batch.create: VALIDATION_ERROR/INVALID_OPTION on dealname"

    def test_create_conflicts_reported_per_record_are_resolved_without_duplicates(self) -> None:
        with hubspot_env(sandbox={"create_conflict_mode": "per_record"}) as env:
            account, owner = seed(env)
            records = [make_record(i, account, owner) for i in range(4)]
            env.adapter.upsert_opportunities(records[:2])  # committed, but the worker never heard back
            won = next(o.crm_id for o in env.control.opportunities() if o.opportunity_id == records[0].opportunity_id)
            env.control.set_stage(won, "closedwon")

            results = env.adapter.upsert_opportunities(records)

            assert all(r.ok for r in results)
            assert [r.created for r in results] == [False, False, True, True]
            assert len(env.control.opportunities()) == 4
            assert deal(env, records[0].opportunity_id)["dealstage"] == "closedwon"


class TestErrors:
    def test_real_rate_limiter_gives_rate_limited_with_window(self) -> None:
        with hubspot_env(setup=False, sandbox={"rate_limit_per_window": 4, "rate_limit_window_seconds": 2.0}) as env:
            with pytest.raises(RateLimited) as info:
                for _ in range(10):
                    list(env.adapter.pull_users(None))
            assert info.value.status == 429 and info.value.code == "RATE_LIMIT"
            assert info.value.retry_after == pytest.approx(2.0)  # X-HubSpot-RateLimit-Interval-Milliseconds

    def test_server_error_message_carries_status_and_correlation_id_only(self, hs_env: HubSpotEnv) -> None:
        hs_env.control.add_fault(Fault(kind=FaultKind.server_error, status=502))

        with pytest.raises(Retryable) as info:
            list(hs_env.adapter.pull_users(None))

        assert info.value.status == 502
        assert "correlationId=" in str(info.value) and "internal error" not in str(info.value)

    def test_connection_refused_is_retryable(self) -> None:
        adapter = HubSpotAdapter(adapter_config(f"http://127.0.0.1:{free_port()}"))
        with pytest.raises(Retryable) as info:
            list(adapter.pull_users(None))
        assert info.value.code == "CONNECTION"

    def test_timeout_is_retryable(self, hs_env: HubSpotEnv) -> None:
        hs_env.control.add_fault(Fault(kind=FaultKind.latency, seconds=1.5))
        with pytest.raises(Retryable) as info:
            list(hs_env.adapter.pull_users(None))
        assert info.value.code == "TIMEOUT"


class TestReads:
    def test_outcomes_follow_stage_metadata_not_labels(self, hs_env: HubSpotEnv) -> None:
        # a real portal renamed its stages: "Won" is the lost stage and "Lost" the won one
        hs_env.control.add_pipeline(
            Pipeline(
                "renamed",
                "Renamed",
                [
                    Stage("s-open", "Open", 0.5, False, 0),
                    Stage("s-closedwon", "Lost", 1.0, True, 1),
                    Stage("s-closedlost", "Won", 0.0, True, 2),
                    Stage("s-dropped", "Dropped", 0.0, True, 3),
                ],
            )
        )
        adapter = hs_env.make_adapter(
            pipeline_id="renamed", initial_stage_id="s-open", not_pursued_stage_ids=("s-dropped",)
        )
        account, owner = seed(hs_env)
        records = [make_record(i, account, owner) for i in range(4)]
        results = adapter.upsert_opportunities(records)
        for res, st in zip(results, ("s-closedwon", "s-closedlost", "s-dropped"), strict=False):
            hs_env.control.set_stage(res.crm_id, st)

        status = {o.opportunity_id: o.status for o in adapter.pull_outcomes([r.opportunity_id for r in records])}

        assert [status[r.opportunity_id] for r in records] == [
            OutcomeStatus.won,
            OutcomeStatus.lost,
            OutcomeStatus.not_pursued,
            OutcomeStatus.open,
        ]

    def test_pull_accounts_pages_through_list_and_search(self, hs_env: HubSpotEnv) -> None:
        since = datetime.now(UTC)
        ids = {hs_env.control.seed_account(f"Company {i}", f"c{i}.example") for i in range(250)}
        hs_env.control.update_company(next(iter(ids)), hs_additional_domains="alt.example;other.example")

        listed = list(hs_env.adapter.pull_accounts(None))
        searched = list(hs_env.adapter.pull_accounts(since))

        assert {a.crm_id for a in listed} == ids and len(listed) == 250
        assert {a.crm_id for a in searched} == ids
        updated = [a.updated_at for a in searched]
        assert updated == sorted(updated)
        assert any(set(a.domains) >= {"alt.example", "other.example"} for a in listed)

    def test_incremental_pull_restarts_past_the_search_window(self) -> None:
        with hubspot_env(
            sandbox={"search_max_results": 400, "search_per_second": 100}, search_window=400, search_min_interval=0.0
        ) as env:
            since = datetime.now(UTC)
            ids = {env.control.seed_account(f"Company {i}") for i in range(1000)}

            pulled = [a.crm_id for a in env.adapter.pull_accounts(since)]

            assert set(pulled) == ids and len(pulled) == len(ids)

    def test_pull_users_includes_archived_owners_as_inactive(self, hs_env: HubSpotEnv) -> None:
        active = hs_env.control.seed_user("Ana.Seller@Example.com", "Ana Seller")
        gone = hs_env.control.seed_user("gone@example.com")
        hs_env.control.archive_owner(gone)

        users = {u.crm_id: u for u in hs_env.adapter.pull_users(None)}

        assert users[active].email == "ana.seller@example.com" and users[active].name == "Ana Seller"
        assert users[active].active and not users[gone].active
