"""One conformance suite for every CRM adapter, run against its sandbox over HTTP with the real client.

The env object (see conftest ``crm_env``) provides ``adapter`` and ``control`` (SandboxControl), and for
stage-dependent cases ``won_stage``, ``lost_stage``, ``open_stage``; optionally ``write_path`` (a path
fragment of the deal/opportunity write endpoint, to aim faults), ``stall_seconds`` (a timeout-after-commit
stall longer than the adapter's read timeout), ``honours_retry_after`` and ``clock_resolution`` (seconds).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from integrations.base import AuthExpired, CRMAdapter, RateLimited, Retryable
from integrations.sandbox.control import Fault, FaultKind
from schemas.crm import ContributorCredit, OpportunityRecord, OutcomeStatus, UpsertResult

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def make_record(
    n: int, account_id: str | None, owner_id: str | None = None, *, prefix: str = "opp", **changes: Any
) -> OpportunityRecord:
    base = OpportunityRecord(
        opportunity_id=f"{prefix}-{n:05d}",
        version=1,
        name=f"Expansion at account {n}",
        account_crm_id=account_id,
        owner_crm_id=owner_id,
        amount=Decimal("1200.50"),
        currency="EUR",
        close_date=(T0 + timedelta(days=60)).date(),
        originator=ContributorCredit(email="dana.delivery@example.com", function="delivery", role="originator"),
        contributors=(ContributorCredit(email="sam.support@example.com", function="support", role="co_contributor"),),
        signal_count=2,
        kinds=("expansion", "new_use_case"),
        first_seen_at=T0,
        source_links=(f"https://tickets.example.com/T-{n}",),
    )
    return base.model_copy(update=changes) if changes else base


def as_existing(record: OpportunityRecord, result: UpsertResult, **changes: Any) -> OpportunityRecord:
    return record.model_copy(
        update={"is_new": False, "crm_id": result.crm_id, "version": record.version + 1, **changes}
    )


def seed(env: Any) -> tuple[str, str]:
    account = env.control.seed_account("Northwind Traders", "northwind.example", "owner.one@example.com")
    owner = env.control.seed_user("owner.one@example.com")
    return account, owner


def by_opportunity(env: Any) -> dict[str | None, list[Any]]:
    out: dict[str | None, list[Any]] = {}
    for o in env.control.opportunities():
        out.setdefault(o.opportunity_id, []).append(o)
    return out


# Stage names per CRM for envs that do not expose won_stage/lost_stage/open_stage themselves.
_DEFAULT_STAGES = {
    "SalesforceEnv": {"won": "Closed Won", "lost": "Closed Lost", "open": "Negotiation/Review"},
}


def stage(env: Any, outcome: str) -> str:
    explicit = getattr(env, f"{outcome}_stage", None)
    if explicit:
        return str(explicit)
    return _DEFAULT_STAGES[type(env).__name__][outcome]


def write_fault(env: Any, kind: FaultKind, **kw: Any) -> Fault:
    return Fault(kind=kind, path=getattr(env, "write_path", None), **kw)


def test_adapter_implements_protocol(crm_env: Any) -> None:
    assert isinstance(crm_env.adapter, CRMAdapter)


def test_more_than_one_batch_creates_each_record_exactly_once(crm_env: Any) -> None:
    account, owner = seed(crm_env)
    n = crm_env.adapter.batch_size + 1
    records = [make_record(i, account, owner) for i in range(n)]

    results = crm_env.adapter.upsert_opportunities(records)

    assert [r.opportunity_id for r in results] == [r.opportunity_id for r in records]
    assert all(r.ok and r.created for r in results)
    stored = by_opportunity(crm_env)
    assert len(stored) == n and all(len(v) == 1 for v in stored.values())
    assert {r.crm_id for r in results} == {o[0].crm_id for o in stored.values()}
    assert all(o[0].account_crm_id == account and o[0].owner_crm_id == owner for o in stored.values())


def test_reupsert_never_duplicates_nor_overwrites_seller_fields(crm_env: Any) -> None:
    account, owner = seed(crm_env)
    records = [make_record(i, account, owner) for i in range(3)]
    first = crm_env.adapter.upsert_opportunities(records)
    crm_env.control.set_stage(first[0].crm_id, stage(crm_env, "open"), amount=98765.0)
    before = {o.crm_id: o.properties for o in crm_env.control.opportunities()}

    again = [
        as_existing(r, res, name="Renamed by us", amount=Decimal("1"), signal_count=5)
        for r, res in zip(records, first, strict=True)
    ]
    second = crm_env.adapter.upsert_opportunities(again)

    assert [r.crm_id for r in second] == [r.crm_id for r in first]
    assert all(r.ok and not r.created for r in second)
    stored = by_opportunity(crm_env)
    assert len(stored) == 3 and all(len(v) == 1 for v in stored.values())
    after = {o.crm_id: o.properties for o in crm_env.control.opportunities()}
    for crm_id, props in before.items():
        changed = {k for k in props if after[crm_id].get(k) != props[k]}
        # only the service's own fields (and CRM bookkeeping) may change; name/stage/amount/owner/close stay
        assert not changed & SELLER_KEYS, changed & SELLER_KEYS


SELLER_KEYS = {
    # HubSpot
    "dealname",
    "dealstage",
    "amount",
    "closedate",
    "hubspot_owner_id",
    "pipeline",
    # Salesforce
    "Name",
    "StageName",
    "Amount",
    "CloseDate",
    "OwnerId",
}


def test_rate_limit_with_retry_after_raises_rate_limited(crm_env: Any) -> None:
    account, owner = seed(crm_env)
    crm_env.control.add_fault(Fault(kind=FaultKind.rate_limit, retry_after=3.0))

    with pytest.raises(RateLimited) as info:
        crm_env.adapter.upsert_opportunities([make_record(1, account, owner)])

    assert info.value.retry_after is not None and info.value.retry_after > 0
    if getattr(crm_env, "honours_retry_after", False):
        assert info.value.retry_after == pytest.approx(3.0)


def test_server_error_raises_retryable(crm_env: Any) -> None:
    account, owner = seed(crm_env)
    crm_env.control.add_fault(Fault(kind=FaultKind.server_error, status=503))

    with pytest.raises(Retryable) as info:
        crm_env.adapter.upsert_opportunities([make_record(1, account, owner)])

    assert not isinstance(info.value, RateLimited)


def test_timeout_after_commit_then_retry_creates_no_duplicate_and_keeps_seller_stage(crm_env: Any) -> None:
    account, owner = seed(crm_env)
    crm_env.adapter.upsert_opportunities([make_record(0, account, owner, prefix="warm")])  # warm caches
    records = [make_record(i, account, owner) for i in range(3)]
    # the env's stall must outlast its adapter's read timeout
    stall = float(getattr(crm_env, "stall_seconds", 0.0))
    crm_env.control.add_fault(write_fault(crm_env, FaultKind.timeout_after_commit, seconds=stall))

    with pytest.raises(Retryable):
        crm_env.adapter.upsert_opportunities(records)

    committed = {o.opportunity_id: o for o in crm_env.control.opportunities()}
    assert all(r.opportunity_id in committed for r in records)  # the work was done before the stall
    # a seller moves a deal before our retry; the retry (still "new" locally) must not reset it
    moved = committed[records[0].opportunity_id].crm_id
    crm_env.control.set_stage(moved, stage(crm_env, "won"))

    results = crm_env.adapter.upsert_opportunities(records)

    assert all(r.ok for r in results)
    stored = by_opportunity(crm_env)
    assert all(len(stored[r.opportunity_id]) == 1 for r in records)
    assert {r.crm_id for r in results} == {committed[r.opportunity_id].crm_id for r in records}
    outcome = next(iter(crm_env.adapter.pull_outcomes([records[0].opportunity_id])))
    assert outcome.status == OutcomeStatus.won


def test_one_rejected_record_of_a_full_batch(crm_env: Any) -> None:
    account, owner = seed(crm_env)
    records = [make_record(i, account, owner) for i in range(crm_env.adapter.batch_size)]
    bad = records[37].opportunity_id
    crm_env.control.add_fault(Fault(kind=FaultKind.reject_record, match=bad, times=1000))

    results = crm_env.adapter.upsert_opportunities(records)

    assert len(results) == len(records)
    assert [r.opportunity_id for r in results] == [r.opportunity_id for r in records]
    failed = [r for r in results if not r.ok]
    assert [r.opportunity_id for r in failed] == [bad]
    assert failed[0].error_code and failed[0].crm_id is None
    assert set(by_opportunity(crm_env)) == {r.opportunity_id for r in records} - {bad}


def test_expired_token_raises_auth_expired(crm_env: Any) -> None:
    account, owner = seed(crm_env)
    crm_env.control.add_fault(Fault(kind=FaultKind.expired_session, times=100))

    with pytest.raises(AuthExpired):
        crm_env.adapter.upsert_opportunities([make_record(1, account, owner)])


def test_pull_accounts_is_incremental(crm_env: Any) -> None:
    old = crm_env.control.seed_account("Contoso", "contoso.example", "owner.two@example.com")
    everything = {a.crm_id: a for a in crm_env.adapter.pull_accounts(None)}
    assert everything[old].name == "Contoso"
    assert "contoso.example" in everything[old].domains
    assert everything[old].owner_email == "owner.two@example.com"

    time.sleep(getattr(crm_env, "clock_resolution", 0.01) * 2)
    since = datetime.now(UTC)
    time.sleep(getattr(crm_env, "clock_resolution", 0.01) * 2)
    new = crm_env.control.seed_account("Fabrikam", "fabrikam.example", "owner.two@example.com")

    changed = {a.crm_id for a in crm_env.adapter.pull_accounts(since)}

    assert changed == {new}


def test_pull_outcomes_maps_won_and_lost_by_stage_metadata(crm_env: Any) -> None:
    account, owner = seed(crm_env)
    records = [make_record(i, account, owner) for i in range(3)]
    results = crm_env.adapter.upsert_opportunities(records)
    crm_env.control.set_stage(results[0].crm_id, stage(crm_env, "won"), amount=5000.0)
    crm_env.control.set_stage(results[1].crm_id, stage(crm_env, "lost"))

    outcomes = {
        o.opportunity_id: o
        for o in crm_env.adapter.pull_outcomes([r.opportunity_id for r in records] + ["never-synced"])
    }

    assert set(outcomes) == {r.opportunity_id for r in records}
    assert outcomes[records[0].opportunity_id].status == OutcomeStatus.won
    assert outcomes[records[0].opportunity_id].amount == Decimal("5000")
    assert outcomes[records[1].opportunity_id].status == OutcomeStatus.lost
    assert outcomes[records[2].opportunity_id].status == OutcomeStatus.open
    assert outcomes[records[0].opportunity_id].crm_id == results[0].crm_id


def test_outcomes_carry_the_stage_time_from_history_the_won_amount_and_a_currency(crm_env: Any) -> None:
    # Issue 12 item 6: a record created with no amount and no currency, won later by a seller, reads back won with
    # the amount, the portal's/org's currency (never null) and when it entered the stage (stage history, not the
    # record's creation time).
    account, owner = seed(crm_env)
    record = make_record(1, account, owner, amount=None, currency=None)
    [created] = crm_env.adapter.upsert_opportunities([record])
    assert created.crm_id is not None
    time.sleep(1.2)  # the stage time must be told apart from the creation time; a slower run only widens the gap
    before_win = datetime.now(UTC)
    crm_env.control.set_stage(created.crm_id, stage(crm_env, "won"), amount=250000.0)

    [outcome] = crm_env.adapter.pull_outcomes([record.opportunity_id])

    assert outcome.status == OutcomeStatus.won and outcome.amount == Decimal("250000")
    assert outcome.currency is not None and len(outcome.currency) == 3
    assert outcome.stage_changed_at is not None
    assert outcome.stage_changed_at >= before_win - timedelta(seconds=0.5)  # the win, not the creation
