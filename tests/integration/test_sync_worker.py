"""The sync worker against each CRM sandbox over HTTP, through the real adapters: happy paths and versions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from app.core.db import make_engine, transaction
from app.opportunities.models import Opportunity
from app.opportunities.repo import OpportunityRepo
from app.opportunities.service import merge
from app.sync.models import SyncJob
from schemas.crm import OutcomeStatus
from tests.integration.test_sync_support import (
    crm_copies,
    ensure_account,
    jobs_by_state,
    make_worker,
    seed_opportunities,
)


def _engine(db_url: str) -> sa.Engine:
    return make_engine(db_url)


def touch(session: Session, opp: Opportunity, crm: str) -> None:
    """What ingest does to an opportunity another signal joins: a new version, marked behind in the outbox."""
    opp.version += 1
    session.add(opp)
    session.flush()
    OpportunityRepo(session).mark_dirty([opp], crm)


class TestSyncNewOpportunities:
    def test_each_opportunity_becomes_one_crm_record_with_id_and_link(self, db_url: str, crm_env: Any) -> None:
        engine = _engine(db_url)
        company = crm_env.control.seed_account("Nordkraft AB", "nordkraft.se", owner_email="owner@ourco.se")
        owner = crm_env.control.seed_user("owner@ourco.se")
        account = ensure_account(engine, crm_env.adapter.name, company, owner_crm_id=owner)
        ids = seed_opportunities(engine, 7, crm=crm_env.adapter.name, account_id=account)

        make_worker(engine, crm_env.adapter).drain()

        assert jobs_by_state(engine) == {"done": 7}
        copies = crm_copies(crm_env.control)
        assert sorted(copies) == sorted(str(i) for i in ids) and set(copies.values()) == {1}
        records = {o.opportunity_id: o for o in crm_env.control.opportunities()}
        with Session(engine) as session:
            for oid in ids:
                opp = session.get(Opportunity, oid)
                assert opp is not None and opp.crm == crm_env.adapter.name
                assert opp.crm_id == records[str(oid)].crm_id
                assert opp.crm_url and opp.crm_id in opp.crm_url
                assert opp.synced_at is not None
                assert records[str(oid)].account_crm_id == company
                assert records[str(oid)].owner_crm_id == owner
        engine.dispose()

    def test_a_local_change_updates_the_record_and_keeps_the_sellers_fields(self, db_url: str, crm_env: Any) -> None:
        engine = _engine(db_url)
        crm = crm_env.adapter.name
        account = ensure_account(engine, crm, crm_env.control.seed_account("Acme AB", "acme.se"))
        [oid] = seed_opportunities(engine, 1, crm=crm, account_id=account)
        worker = make_worker(engine, crm_env.adapter)
        worker.drain()
        [record] = crm_env.control.opportunities()
        crm_env.control.set_stage(record.crm_id, crm_env.open_stage, amount=12345.0)
        seller_view = {k: v for k, v in crm_env.control.opportunities()[0].properties.items()}

        with transaction(engine) as session:  # what ingest does when another signal joins
            opp = session.get(Opportunity, oid)
            assert opp is not None
            opp.signal_count += 1
            opp.title = "A title the CRM must not get"
            touch(session, opp, crm)
        worker.drain()

        [after] = crm_env.control.opportunities()
        assert after.crm_id == record.crm_id
        for name, value in seller_view.items():
            low = name.lower()
            if any(k in low for k in ("stage", "amount", "owner", "close", "name")) and "signal" not in low:
                assert after.properties.get(name) == value, name
        count_field = next(k for k in after.properties if "count" in k.lower() and "signal" in k.lower())
        assert int(float(after.properties[count_field])) == 3
        assert jobs_by_state(engine) == {"done": 1}
        engine.dispose()

    def test_a_change_while_the_batch_is_in_flight_leaves_the_job_pending(self, db_url: str, crm_env: Any) -> None:
        engine = _engine(db_url)
        crm = crm_env.adapter.name
        account = ensure_account(engine, crm, crm_env.control.seed_account("Inflight AB", "inflight.se"))
        [oid] = seed_opportunities(engine, 1, crm=crm, account_id=account)
        worker = make_worker(engine, crm_env.adapter)
        jobs = worker.claim(10)
        outcomes = worker.process(jobs)
        with transaction(engine) as session:
            opp = session.get(Opportunity, oid)
            assert opp is not None
            touch(session, opp, crm)
            version = opp.version
        worker.record(jobs, outcomes)
        with Session(engine) as session:
            job = session.exec(sa.select(SyncJob)).scalar_one()  # type: ignore[call-overload]
            assert job.state == "pending" and job.synced_version == version - 1 and job.wanted_version == version
        worker.drain()
        assert jobs_by_state(engine) == {"done": 1}
        assert set(crm_copies(crm_env.control).values()) == {1}
        engine.dispose()


class TestOutcomesReadBack:
    def test_a_won_deal_is_read_back_onto_its_opportunity(self, db_url: str, crm_env: Any) -> None:
        from app.sync.pull import pull_outcomes

        engine = _engine(db_url)
        crm = crm_env.adapter.name
        account = ensure_account(engine, crm, crm_env.control.seed_account("Won AB", "won.se"))
        won, still_open = seed_opportunities(engine, 2, crm=crm, account_id=account)
        make_worker(engine, crm_env.adapter).drain()
        by_key = {o.opportunity_id: o for o in crm_env.control.opportunities()}
        crm_env.control.set_stage(by_key[str(won)].crm_id, crm_env.won_stage, amount=5000.0)

        assert pull_outcomes(engine, crm_env.adapter) == 2  # both learn their stage; one is won
        assert pull_outcomes(engine, crm_env.adapter) == 0  # applying it again changes nothing
        with Session(engine) as session:
            a, b = session.get(Opportunity, won), session.get(Opportunity, still_open)
            assert a is not None and a.status == "won" and a.amount is not None and float(a.amount) == 5000.0
            assert b is not None and b.status == "open"
        assert jobs_by_state(engine) == {"done": 2}  # outcomes never cause a sync back
        engine.dispose()


class TestMerges:
    """Item 7 of issue 12: a merge leaves no orphan deal open in the seller's pipeline."""

    @staticmethod
    def _contributors(record: Any) -> str:
        [name] = [k for k in record.properties if "contributors" in k.lower() and "function" not in k.lower()]
        return str(record.properties[name])

    def test_a_merge_closes_the_merged_away_record_and_credit_moves_to_the_survivor(
        self, db_url: str, crm_env: Any
    ) -> None:
        engine = _engine(db_url)
        crm = crm_env.adapter.name
        account = ensure_account(engine, crm, crm_env.control.seed_account("Merge AB", "merge.se"))
        [keep] = seed_opportunities(engine, 1, crm=crm, account_id=account, contributors=("ada@ourco.se",))
        [dup] = seed_opportunities(engine, 1, crm=crm, account_id=account, contributors=("bo@ourco.se",))
        worker = make_worker(engine, crm_env.adapter)
        worker.drain()
        assert len(crm_env.control.opportunities()) == 2

        with transaction(engine) as session:
            survivor, absorbed = session.get(Opportunity, keep), session.get(Opportunity, dup)
            assert survivor is not None and absorbed is not None
            merge(session, survivor, absorbed, "reviewer@ourco.se", crm)
        worker.drain()

        assert jobs_by_state(engine) == {"done": 2}
        with Session(engine) as session:
            survivor = session.get(Opportunity, keep)
            assert survivor is not None and survivor.crm_id is not None
            people = {p.email for _, p in OpportunityRepo(session).credits_with_people(keep)}
            assert people == {"ada@ourco.se", "bo@ourco.se"}
            assert OpportunityRepo(session).credits_with_people(dup) == []
        [kept] = [o for o in crm_env.control.opportunities() if o.opportunity_id == str(keep)]
        assert kept.crm_id == survivor.crm_id  # a CRM merge may have given it a new id: we follow it
        assert set(self._contributors(kept).split(";")) == {"ada@ourco.se", "bo@ourco.se"}
        # Nothing reads the merged-away record as an open deal any more.
        assert all(o.status != OutcomeStatus.open for o in crm_env.adapter.pull_outcomes([str(dup)]))

    def test_a_merge_before_either_was_synced_creates_only_the_survivor(self, db_url: str, crm_env: Any) -> None:
        engine = _engine(db_url)
        crm = crm_env.adapter.name
        account = ensure_account(engine, crm, crm_env.control.seed_account("Early AB", "early.se"))
        keep, dup = seed_opportunities(engine, 2, crm=crm, account_id=account)
        with transaction(engine) as session:
            survivor, absorbed = session.get(Opportunity, keep), session.get(Opportunity, dup)
            assert survivor is not None and absorbed is not None
            merge(session, survivor, absorbed, "reviewer@ourco.se", crm)

        make_worker(engine, crm_env.adapter).drain()

        assert [o.opportunity_id for o in crm_env.control.opportunities()] == [str(keep)]
        assert jobs_by_state(engine) == {"done": 2}
