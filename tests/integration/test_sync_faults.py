"""The sync worker against faulty CRMs: each sandbox scripts the fault on the wire, the real adapter meets it
over HTTP, and the worker must end with every opportunity exactly once in the CRM (or dead-lettered with the
CRM's code). Backoff bases are shortened; Retry-After waits are real.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from app.core.db import make_engine
from app.core.timeutil import utcnow
from app.sync.models import RateBudget, SyncJob
from app.sync.status import read_status
from integrations.sandbox.control import Fault, FaultKind
from tests.integration.hubspot_env import HubSpotEnv
from tests.integration.test_sync_support import (
    ManualClock,
    crm_copies,
    ensure_account,
    jobs_by_state,
    make_worker,
    seed_opportunities,
    write_calls,
)


@pytest.fixture
def engine(db_url: str) -> Any:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _seed(engine: sa.Engine, env: Any, n: int) -> list[uuid.UUID]:
    account = ensure_account(engine, env.adapter.name, env.control.seed_account(f"Kund {n} AB", f"kund{n}.se"))
    return seed_opportunities(engine, n, crm=env.adapter.name, account_id=account)


def _jobs(engine: sa.Engine) -> list[SyncJob]:
    with Session(engine) as session:
        return list(session.exec(select(SyncJob)))


def _make_due(engine: sa.Engine) -> None:
    """Let time pass: every scheduled retry and every budget block ends now."""
    with engine.begin() as conn:
        conn.execute(sa.update(SyncJob.__table__).values(next_attempt_at=utcnow()))  # type: ignore[attr-defined]
        conn.execute(sa.update(RateBudget.__table__).values(blocked_until=None))  # type: ignore[attr-defined]


BEYOND_ANY_BACKOFF = 3600.0  # seconds; worker_config caps backoff at 1 s


def _exactly_once(env: Any, ids: list[uuid.UUID]) -> None:
    copies = crm_copies(env.control)
    assert sorted(copies) == sorted(str(i) for i in ids)
    assert set(copies.values()) == {1}


class TestRateLimits:
    def test_hubspot_429_with_retry_after_waits_then_succeeds(self, engine: sa.Engine, hs_env: HubSpotEnv) -> None:
        ids = _seed(engine, hs_env, 5)
        hs_env.control.add_fault(Fault(FaultKind.rate_limit, times=1, retry_after=1.0, path=hs_env.write_path))
        before = write_calls(hs_env)

        started = time.monotonic()
        make_worker(engine, hs_env.adapter).drain()

        assert time.monotonic() - started >= 1.0
        assert write_calls(hs_env) - before == 2
        assert jobs_by_state(engine) == {"done": 5}
        _exactly_once(hs_env, ids)

    def test_salesforce_request_limit_exceeded_backs_off_and_is_not_dead_lettered(self, engine: sa.Engine) -> None:
        from tests.integration.salesforce_env import salesforce_env

        with salesforce_env() as env:
            ids = _seed(engine, env, 4)
            env.control.add_fault(Fault(FaultKind.rate_limit, times=1, path=env.write_path))
            worker = make_worker(engine, env.adapter)
            worker.drain()

            jobs = _jobs(engine)
            assert {j.state for j in jobs} == {"retrying"}
            assert {j.last_error_code for j in jobs} == {"REQUEST_LIMIT_EXCEEDED"}
            # REQUEST_LIMIT_EXCEEDED carries no Retry-After: the adapter's configured back-off (900 s) applies,
            # and the shared budget stops every worker, not just this one.
            assert all(j.next_attempt_at >= utcnow() + timedelta(seconds=800) for j in jobs)
            [status] = read_status(engine)
            assert status.retrying == 4 and status.dead == 0 and status.rate_limited_until is not None
            assert crm_copies(env.control) == {}

            _make_due(engine)
            worker.drain()
            assert jobs_by_state(engine) == {"done": 4}
            _exactly_once(env, ids)


class TestTransientFailures:
    def test_5xx_three_times_then_success(self, engine: sa.Engine, crm_env: Any) -> None:
        ids = _seed(engine, crm_env, 6)
        crm_env.control.add_fault(Fault(FaultKind.server_error, times=3, status=503, path=crm_env.write_path))
        before = write_calls(crm_env)

        make_worker(engine, crm_env.adapter).drain()

        assert write_calls(crm_env) - before == 4
        assert jobs_by_state(engine) == {"done": 6}
        assert {j.attempts for j in _jobs(engine)} == {0}
        _exactly_once(crm_env, ids)

    def test_5xx_beyond_the_inline_tries_is_rescheduled_then_succeeds(self, engine: sa.Engine, crm_env: Any) -> None:
        ids = _seed(engine, crm_env, 3)
        crm_env.control.add_fault(Fault(FaultKind.server_error, times=5, status=500, path=crm_env.write_path))
        # The worker's clock stands still, so a rescheduled job cannot come due again inside the same drain
        # however slow the machine is; the test moves time past the backoff itself.
        clock = ManualClock()
        worker = make_worker(engine, crm_env.adapter, inline_attempts=2, clock=clock)

        worker.drain()
        assert {(j.state, j.attempts) for j in _jobs(engine)} == {("retrying", 1)}
        clock.advance(BEYOND_ANY_BACKOFF)
        worker.drain()
        assert {(j.state, j.attempts) for j in _jobs(engine)} == {("retrying", 2)}
        clock.advance(BEYOND_ANY_BACKOFF)
        worker.drain()
        assert jobs_by_state(engine) == {"done": 3}
        _exactly_once(crm_env, ids)

    def test_timeout_after_the_crm_committed_creates_no_duplicate(self, engine: sa.Engine, crm_env: Any) -> None:
        ids = _seed(engine, crm_env, 5)
        crm_env.control.add_fault(
            Fault(FaultKind.timeout_after_commit, times=1, seconds=crm_env.stall_seconds, path=crm_env.write_path)
        )

        make_worker(engine, crm_env.adapter).drain()

        assert jobs_by_state(engine) == {"done": 5}
        _exactly_once(crm_env, ids)

    def test_a_poison_job_goes_dead_after_max_attempts_without_blocking_others(
        self, engine: sa.Engine, hs_env: HubSpotEnv
    ) -> None:
        ids = _seed(engine, hs_env, 3)
        hs_env.control.add_fault(Fault(FaultKind.server_error, times=1000, status=502, path=hs_env.write_path))
        clock = ManualClock()
        worker = make_worker(engine, hs_env.adapter, inline_attempts=1, max_attempts=3, clock=clock)
        for _ in range(3):
            worker.drain()
            clock.advance(BEYOND_ANY_BACKOFF)
        jobs = _jobs(engine)
        assert {(j.state, j.attempts) for j in jobs} == {("dead", 3)}
        assert all(j.last_error and "gave up after 3 attempts" in j.last_error for j in jobs)
        hs_env.control.clear_faults()
        assert len(ids) == 3


class TestRejections:
    def test_a_400_on_one_record_of_100_syncs_99_and_dead_letters_it_with_its_code(
        self, engine: sa.Engine, crm_env: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        ids = _seed(engine, crm_env, 100)
        bad = str(ids[37])
        crm_env.control.add_fault(Fault(FaultKind.reject_record, times=1000, match=bad))

        make_worker(engine, crm_env.adapter).drain()

        assert jobs_by_state(engine) == {"done": 99, "dead": 1}
        [dead] = [j for j in _jobs(engine) if j.state == "dead"]
        assert str(dead.opportunity_id) == bad
        expected = {"hubspot": "INVALID_OPTION", "salesforce": "FIELD_CUSTOM_VALIDATION_EXCEPTION"}
        assert dead.last_error_code == expected[crm_env.adapter.name]
        copies = crm_copies(crm_env.control)
        assert len(copies) == 99 and bad not in copies and set(copies.values()) == {1}
        [status] = read_status(engine)
        assert status.dead == 1 and status.last_errors[0].code == dead.last_error_code
        # No record contents in logs: titles are customer text.
        assert "Invoices re-keyed by hand" not in caplog.text

    def test_a_whole_request_rejection_is_bisected_to_the_bad_record(self, engine: sa.Engine) -> None:
        from tests.integration.salesforce_env import salesforce_env

        with salesforce_env() as env:
            ids = _seed(engine, env, 8)
            env.control.add_fault(
                Fault(
                    FaultKind.server_error,
                    times=1,
                    status=400,
                    path=env.write_path,
                    extra={"error_code": "INVALID_FIELD"},
                )
            )
            before = write_calls(env)
            make_worker(engine, env.adapter).drain()
            # The refused batch of 8, then its halves of 4: nothing was dead-lettered for a one-off refusal.
            assert write_calls(env) - before == 3
            assert jobs_by_state(engine) == {"done": 8}
            _exactly_once(env, ids)


class TestExpiredSession:
    def test_salesforce_expired_session_is_refreshed_once(self, engine: sa.Engine) -> None:
        from tests.integration.salesforce_env import salesforce_env

        with salesforce_env() as env:
            ids = _seed(engine, env, 5)
            worker = make_worker(engine, env.adapter)
            env.adapter.setup()  # logs in
            logins = env.adapter.login_count
            env.control.add_fault(Fault(FaultKind.expired_session, times=1, path=env.write_path))
            worker.drain()
            assert env.adapter.login_count == logins + 1
            assert jobs_by_state(engine) == {"done": 5}
            _exactly_once(env, ids)

    def test_an_unrenewable_expired_token_waits_visibly_and_is_not_dead(
        self, engine: sa.Engine, hs_env: HubSpotEnv
    ) -> None:
        ids = _seed(engine, hs_env, 3)
        hs_env.control.add_fault(Fault(FaultKind.expired_session, times=1))
        clock = ManualClock()
        worker = make_worker(engine, hs_env.adapter, clock=clock)
        worker.drain()
        [status] = read_status(engine)
        assert status.retrying == 3 and status.dead == 0
        assert status.last_errors[0].code == "EXPIRED_AUTHENTICATION"
        clock.advance(BEYOND_ANY_BACKOFF)
        worker.drain()
        assert jobs_by_state(engine) == {"done": 3}
        _exactly_once(hs_env, ids)
