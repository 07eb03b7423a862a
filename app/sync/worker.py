"""The sync worker: the outbox relay that claims due sync jobs, upserts their opportunities into the CRM in
batches, and records the result per job.

Any number of worker processes can share one PostgreSQL: a claim is one ``UPDATE … WHERE id IN (SELECT …
FOR UPDATE SKIP LOCKED) RETURNING`` that also sets a lease (``claimed_until``), so a killed worker's jobs come
back when the lease runs out. On SQLite the claim runs under the database write lock (one process).
Exactly-once in the CRM comes from the adapters' upsert on the unique key, never from the claim: a job sent
twice (lease expiry, crash after the CRM committed) updates the same record.

    python -m app.sync.worker          # one worker process, configured like the service (SIGNAL_PIPELINE_*)
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import make_engine, transaction
from app.core.settings import Settings, load_settings
from app.core.timeutil import utcnow
from app.notifications import events
from app.opportunities.models import Opportunity
from app.reports import milestones
from app.sync import budget, metrics, status
from app.sync.adapters import build_adapter, choices, rate_limit
from app.sync.models import SyncJob
from app.sync.records import MergedAway, build_records, merged_away
from app.sync.retry import RetryPolicy, WaitTooLong, call_with_retries
from integrations.base import AuthExpired, CRMAdapter, CRMError, RateLimited, Rejected, Retryable
from schemas.crm import DuplicateClosure, OpportunityRecord

log = logging.getLogger("signal_pipeline.sync")

MAX_ERROR_TEXT = 1000
SURVIVOR_PENDING = "the opportunity it was merged into has no CRM record yet; it is closed into that one once it has"
K = TypeVar("K")


@dataclass(frozen=True)
class ClaimedJob:
    id: uuid.UUID
    opportunity_id: uuid.UUID
    wanted_version: int
    attempts: int


@dataclass(frozen=True)
class Synced:
    crm_id: str
    url: str | None
    created: bool
    error_code: str | None = None  # the record is written but a follow-up (e.g. an association) failed
    error: str | None = None


@dataclass(frozen=True)
class Dead:
    code: str
    error: str


@dataclass(frozen=True)
class Retry:
    code: str
    error: str
    delay: float
    keep: bool = False  # rate limits and auth failures delay a job; they never dead-letter it


@dataclass(frozen=True)
class Settled:
    """Nothing to send: a merged-away opportunity with no open record in the CRM."""


@dataclass(frozen=True)
class Closed:
    """A merged-away opportunity's record is closed as a duplicate; the survivor's record id afterwards."""

    survivor_id: uuid.UUID
    survivor_crm_id: str
    survivor_url: str | None


Outcome = Synced | Dead | Retry | Settled | Closed

WAIT_FOR_ACCOUNT = Retry(
    status.ACCOUNT_NOT_IN_CRM,
    "the opportunity's account has no record in this CRM yet; it waits until the account is assigned to or "
    "imported from a CRM company",
    0.0,
    keep=True,
)


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int
    lease_seconds: float
    poll_seconds: float
    max_attempts: int
    retry: RetryPolicy
    budget: budget.BudgetSpec
    pull_interval_seconds: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, adapter: CRMAdapter) -> WorkerConfig:
        limit, window = rate_limit(settings)
        size = min(settings.sync_batch_size or adapter.batch_size, adapter.batch_size)
        lease = settings.sync_lease_seconds
        return cls(
            batch_size=size,
            lease_seconds=lease,
            poll_seconds=settings.sync_poll_seconds,
            max_attempts=settings.sync_max_attempts,
            retry=RetryPolicy(
                base_seconds=settings.sync_backoff_base_seconds,
                max_seconds=settings.sync_backoff_max_seconds,
                inline_attempts=settings.sync_inline_attempts,
                # Never sleep through a good part of the lease: another worker would take the jobs over.
                inline_max_wait=min(settings.sync_inline_max_wait_seconds, lease / 4),
            ),
            budget=budget.BudgetSpec.rolling_window(adapter.name, limit, window, settings.sync_rate_burst_fraction),
            pull_interval_seconds=settings.sync_pull_interval_seconds,
        )


class _BudgetExhausted(Exception):
    """The shared rate budget stays empty longer than a worker may hold its claims."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class SyncWorker:
    """Claims, sends and records batches for one CRM adapter. ``step`` does one batch; ``run`` loops."""

    def __init__(
        self,
        engine: Engine,
        adapter: CRMAdapter,
        config: WorkerConfig,
        *,
        worker_id: str | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        # What is due and when a retry comes due are read from this clock: tests move it explicitly instead of
        # racing a real backoff.
        self.clock = clock
        self.adapter = adapter
        self.crm = adapter.name
        self.config = config
        self.worker_id = (worker_id or default_worker_id())[:100]
        self.stop = stop or threading.Event()
        self.postgres = engine.dialect.name == "postgresql"

    # ---- the loop ----------------------------------------------------------------------------------------

    def run(self) -> None:
        log.info("sync.worker_started", extra={"crm": self.crm, "worker_id": self.worker_id})
        while not self.stop.is_set():
            try:
                self._maybe_pull()
                pause = self.step()
            except Exception as exc:  # the loop must outlive a database restart or an adapter bug
                log.exception("sync.step_failed", extra={"crm": self.crm, "error_type": type(exc).__name__})
                pause = max(self.config.poll_seconds, 1.0)
            if pause > 0:
                self.stop.wait(pause)
        log.info("sync.worker_stopped", extra={"crm": self.crm, "worker_id": self.worker_id})

    def drain(self, *, timeout: float = 60.0) -> None:
        """Process batches until nothing is due (tests, the CLI's one-shot mode)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            if self.step() > 0:
                return

    def step(self) -> float:
        """Claim and process one batch; return how long to pause before the next step (0 after work)."""
        jobs = self.claim(self.config.batch_size)
        if not jobs:
            return self.config.poll_seconds
        started = time.monotonic()
        try:
            outcomes = self.process(jobs)
        except _BudgetExhausted:
            self.release(jobs)
            return max(self.config.poll_seconds, 1.0)
        except BaseException:
            self.release(jobs)
            raise
        self.record(jobs, outcomes)
        metrics.BATCH_SECONDS.labels(self.crm).observe(time.monotonic() - started)
        return 0.0

    def _maybe_pull(self) -> None:
        if self.config.pull_interval_seconds <= 0:
            return
        from app.sync import pull

        if pull.claim_schedule(self.engine, self.crm, self.config.pull_interval_seconds):
            try:
                counts = pull.pull_all(self.engine, self.adapter)
                log.info("sync.pulled", extra={"crm": self.crm, **counts})
            except CRMError as exc:
                log.warning("sync.pull_failed", extra={"crm": self.crm, "code": exc.code, "status": exc.status})

    # ---- claim -------------------------------------------------------------------------------------------

    def claim(self, limit: int) -> list[ClaimedJob]:
        """Lease up to ``limit`` due jobs of this CRM to this worker, oldest due first."""
        now = self.clock()
        t = SyncJob.__table__  # type: ignore[attr-defined]
        due = (
            sa.select(t.c.id)
            .where(
                t.c.crm == self.crm,
                t.c.state.in_(("pending", "retrying")),
                t.c.next_attempt_at <= now,
                sa.or_(t.c.claimed_until.is_(None), t.c.claimed_until < now),
            )
            .order_by(t.c.next_attempt_at)
            .limit(limit)
        )
        if self.postgres:
            due = due.with_for_update(skip_locked=True)
        stmt = (
            sa.update(t)
            .where(t.c.id.in_(due.scalar_subquery()))
            .values(
                claimed_by=self.worker_id,
                claimed_until=now + timedelta(seconds=self.config.lease_seconds),
            )
            .returning(t.c.id, t.c.opportunity_id, t.c.wanted_version, t.c.attempts)
        )
        with transaction(self.engine) as session:
            rows = session.execute(stmt).all()
        return [ClaimedJob(r[0], r[1], r[2], r[3]) for r in rows]

    def release(self, jobs: Sequence[ClaimedJob]) -> None:
        """Give claims back untouched (stopping, or the budget is blocked for longer than we may wait)."""
        t = SyncJob.__table__  # type: ignore[attr-defined]
        with transaction(self.engine) as session:
            session.execute(
                sa.update(t)
                .where(t.c.id.in_([j.id for j in jobs]), t.c.claimed_by == self.worker_id)
                .values(claimed_by=None, claimed_until=None)
            )

    # ---- send --------------------------------------------------------------------------------------------

    def process(self, jobs: Sequence[ClaimedJob]) -> dict[uuid.UUID, tuple[int, Outcome]]:
        """Build the records and send them; (version sent, outcome) per opportunity id."""
        with Session(self.engine) as session:
            gone = merged_away(session, [j.opportunity_id for j in jobs], self.crm)
            records = build_records(session, [j.opportunity_id for j in jobs if j.opportunity_id not in gone], self.crm)
        outcomes: dict[uuid.UUID, tuple[int, Outcome]] = {}
        for job in jobs:
            if job.opportunity_id in gone:
                continue
            if job.opportunity_id not in records:
                outcomes[job.opportunity_id] = (
                    job.wanted_version,
                    Dead("OPPORTUNITY_GONE", "the opportunity was deleted"),
                )
        ordered: list[OpportunityRecord] = []
        for job in jobs:
            record = records.get(job.opportunity_id)
            if record is None:
                continue
            if record.is_new and record.account_crm_id is None:
                # A deal without its company is a stray in the seller's pipeline: it waits, visibly, until its
                # account is in the CRM (costs no API call; never dead-lettered).
                outcomes[job.opportunity_id] = (record.version, WAIT_FOR_ACCOUNT)
            else:
                ordered.append(record)
        for record, outcome in self.send(ordered).items():
            outcomes[uuid.UUID(record.opportunity_id)] = (record.version, outcome)
        if gone:
            outcomes.update(self._close_merged(list(gone.values()), outcomes))
        return outcomes

    def _close_merged(
        self, gone: Sequence[MergedAway], sent: dict[uuid.UUID, tuple[int, Outcome]]
    ) -> dict[uuid.UUID, tuple[int, Outcome]]:
        """Close the CRM records of merged-away opportunities, after this batch's upserts (a survivor created
        just now has its CRM id from them)."""
        out: dict[uuid.UUID, tuple[int, Outcome]] = {}
        todo: list[tuple[MergedAway, DuplicateClosure]] = []
        for m in gone:
            if m.crm_id is None or not m.still_open:
                out[m.opportunity_id] = (m.version, Settled())
                continue
            synced = sent.get(m.survivor_id, (0, None))[1]
            survivor_crm_id = synced.crm_id if isinstance(synced, Synced) else m.survivor_crm_id
            if survivor_crm_id is None:
                # The survivor's own record is on its way; close this one into it once it exists.
                out[m.opportunity_id] = (m.version, Retry("SURVIVOR_NOT_IN_CRM", SURVIVOR_PENDING, 0.0, keep=True))
                continue
            closure = DuplicateClosure(
                opportunity_id=str(m.opportunity_id),
                crm_id=m.crm_id,
                survivor_opportunity_id=str(m.survivor_id),
                survivor_crm_id=survivor_crm_id,
            )
            todo.append((m, closure))
        if not todo:
            return out
        closures = [c for _, c in todo]
        if not budget.take(self.engine, self.config.budget, float(len(closures)), self.stop, max_wait=1.0):
            wait = max(self.config.poll_seconds, 1.0)
            out.update(
                {
                    m.opportunity_id: (m.version, Retry("RATE_BUDGET", "rate budget exhausted", wait, True))
                    for m, _ in todo
                }
            )
            return out
        metrics.CALLS.labels(self.crm).inc()
        try:
            results = self._refreshing(lambda: list(self.adapter.close_duplicates(closures)))
        except Rejected as exc:
            metrics.ERRORS.labels(self.crm, exc.code or "REJECTED").inc()
            out.update({m.opportunity_id: (m.version, Dead(exc.code or "REJECTED", _text(exc))) for m, _ in todo})
            return out
        except WaitTooLong as exc:
            retry = self._retry_all([m.opportunity_id for m, _ in todo], exc.cause, exc.wait)
            return {**out, **{m.opportunity_id: (m.version, retry[m.opportunity_id]) for m, _ in todo}}
        except Retryable as exc:
            retry = self._retry_all([m.opportunity_id for m, _ in todo], exc, None)
            return {**out, **{m.opportunity_id: (m.version, retry[m.opportunity_id]) for m, _ in todo}}
        except AuthExpired as exc:
            keep = Retry(exc.code or "AUTH_EXPIRED", _text(exc), 0.0, keep=True)
            return {**out, **{m.opportunity_id: (m.version, keep) for m, _ in todo}}
        by_id = {r.opportunity_id: r for r in results}
        for m, closure in todo:
            result = by_id.get(closure.opportunity_id)
            if result is None:
                outcome: Outcome = Retry("RESULT_MISMATCH", "adapter returned no result for a closure", 0.0)
            elif result.survivor_crm_id is not None and result.error_code is None:
                outcome = Closed(m.survivor_id, result.survivor_crm_id, result.survivor_url)
            else:
                code = result.error_code or "REJECTED"
                metrics.ERRORS.labels(self.crm, code).inc()
                outcome = Dead(code, _text(result.error_message or code))
            out[m.opportunity_id] = (m.version, outcome)
        return out

    def _take_budget(self, records: Sequence[OpportunityRecord]) -> bool:
        # Taking the adapter's estimate up front keeps every process inside the shared window.
        cost = self.adapter.request_cost(records)
        return budget.take(self.engine, self.config.budget, cost, self.stop, max_wait=self.config.lease_seconds / 3)

    def send(self, records: Sequence[OpportunityRecord], *, top: bool = True) -> dict[OpportunityRecord, Outcome]:
        """Upsert ``records``; a whole-batch rejection is bisected down to the record(s) at fault."""
        if not records:
            return {}
        if not self._take_budget(records):
            if top or self.stop.is_set():
                raise _BudgetExhausted()  # nothing sent yet: give the claims back untouched
            wait = max(self.config.poll_seconds, 1.0)
            return {r: Retry("RATE_BUDGET", "client-side rate budget exhausted", wait, True) for r in records}
        metrics.CALLS.labels(self.crm).inc()
        try:
            results = self._upsert_refreshing(records)
        except Rejected as exc:
            metrics.ERRORS.labels(self.crm, exc.code or "REJECTED").inc()
            if len(records) == 1:
                return {records[0]: Dead(exc.code or "REJECTED", _text(exc))}
            mid = len(records) // 2
            log.info("sync.bisect", extra={"crm": self.crm, "size": len(records), "code": exc.code})
            return {**self.send(records[:mid], top=False), **self.send(records[mid:], top=False)}
        except WaitTooLong as exc:
            return self._retry_all(records, exc.cause, exc.wait)
        except Retryable as exc:
            return self._retry_all(records, exc, None)
        except AuthExpired as exc:
            metrics.ERRORS.labels(self.crm, exc.code or "AUTH_EXPIRED").inc()
            log.error("sync.auth_failed", extra={"crm": self.crm, "code": exc.code, "status": exc.status})
            return {r: Retry(exc.code or "AUTH_EXPIRED", _text(exc), 0.0, keep=True) for r in records}
        by_id = {r.opportunity_id: r for r in records}
        if len(results) != len(records) or {x.opportunity_id for x in results} != set(by_id):
            # The adapter broke its contract (one result per input): do not guess which is which.
            bad = Retryable("adapter returned results that do not match the inputs", code="RESULT_MISMATCH")
            return self._retry_all(records, bad, None)
        out: dict[OpportunityRecord, Outcome] = {}
        for result in results:
            record = by_id[result.opportunity_id]
            if result.crm_id is not None:
                out[record] = Synced(result.crm_id, result.url, result.created, result.error_code, result.error_message)
            else:
                code = result.error_code or "REJECTED"
                metrics.ERRORS.labels(self.crm, code).inc()
                out[record] = Dead(code, _text(result.error_message or code, field=result.error_field))
        return out

    def _upsert_refreshing(self, records: Sequence[OpportunityRecord]) -> list[Any]:
        """Upsert with in-process retries; an expired session gets one refresh and one more try."""
        return self._refreshing(lambda: list(self.adapter.upsert_opportunities(records)))

    def _refreshing(self, once: Callable[[], list[Any]]) -> list[Any]:
        try:
            return call_with_retries(once, self.config.retry, self.stop)
        except AuthExpired as exc:
            # An adapter that can renew its session gets one chance here; otherwise the jobs wait, visible in
            # the status.
            if not self.adapter.refresh():
                raise
            log.warning("sync.auth_refresh", extra={"crm": self.crm, "code": exc.code})
            return call_with_retries(once, self.config.retry, self.stop)

    def _retry_all(self, records: Sequence[K], exc: Retryable, wait: float | None) -> dict[K, Outcome]:
        code = exc.code or (f"HTTP_{exc.status}" if exc.status else type(exc).__name__.upper())
        metrics.ERRORS.labels(self.crm, code).inc()
        limited = isinstance(exc, RateLimited)
        delay = max(wait or 0.0, exc.retry_after or 0.0)
        if limited and delay > 0:
            budget.block(self.engine, self.config.budget, delay)  # every worker pauses, not only this one
        log.warning(
            "sync.batch_retry",
            extra={"crm": self.crm, "code": code, "status": exc.status, "size": len(records), "delay": delay},
        )
        return {r: Retry(code, _text(exc), delay, limited) for r in records}

    # ---- record ------------------------------------------------------------------------------------------

    def record(self, jobs: Sequence[ClaimedJob], outcomes: dict[uuid.UUID, tuple[int, Outcome]]) -> None:
        """Store every job's outcome, and CRM ids on the opportunities, in one transaction."""
        now = self.clock()
        t = SyncJob.__table__  # type: ignore[attr-defined]
        mine = t.c.claimed_by == self.worker_id
        unclaim = {
            "claimed_by": sa.case((mine, None), else_=t.c.claimed_by),
            "claimed_until": sa.case((mine, None), else_=t.c.claimed_until),
        }
        counts = {"synced": 0, "dead": 0, "retry": 0}
        clean: list[dict[str, Any]] = []
        stored: dict[uuid.UUID, Synced] = {}
        closed: list[Closed] = []
        with transaction(self.engine) as session:
            for job in jobs:
                sent_version, outcome = outcomes[job.opportunity_id]
                where = sa.and_(t.c.id == job.id, t.c.state != "dead")
                if isinstance(outcome, Synced):
                    stored[job.opportunity_id] = outcome
                if isinstance(outcome, Closed):
                    closed.append(outcome)
                if (isinstance(outcome, Synced) and not outcome.error_code) or isinstance(outcome, Settled | Closed):
                    clean.append({"b_id": job.id, "b_v": sent_version})
                    counts["synced"] += 1
                    continue
                if isinstance(outcome, Dead):
                    values: dict[str, Any] = {
                        "state": "dead",
                        "attempts": t.c.attempts + 1,
                        "last_error_code": outcome.code[:100],
                        "last_error": outcome.error[:MAX_ERROR_TEXT],
                    }
                    counts["dead"] += 1
                elif isinstance(outcome, Synced):
                    # Written, but a follow-up (e.g. the company link) failed: retry it later as an update,
                    # which never sends seller fields.
                    retry = Retry(outcome.error_code or "FOLLOW_UP_FAILED", outcome.error or "", 0.0)
                    values = {**_retry_values(job, self.config, retry, now), "synced_version": sent_version}
                    counts["retry"] += 1
                else:
                    values = _retry_values(job, self.config, outcome, now)
                    counts["retry"] += 1
                session.execute(sa.update(t).where(where).values(updated_at=now, **values, **unclaim))
            if clean:
                sent = sa.bindparam("b_v", type_=sa.Integer())
                behind = t.c.wanted_version > sent
                session.execute(
                    sa.update(t)
                    .where(t.c.id == sa.bindparam("b_id"), t.c.state != "dead")
                    .values(
                        synced_version=sa.case((t.c.synced_version > sent, t.c.synced_version), else_=sent),
                        state=sa.case((behind, "pending"), else_="done"),
                        dirty_since=sa.case((behind, t.c.dirty_since), else_=None),
                        attempts=0,
                        next_attempt_at=now,
                        last_error_code=None,
                        last_error=None,
                        updated_at=now,
                        **unclaim,
                    ),
                    clean,
                )
            newly = self._store_crm_ids(session, stored, now)
            self._store_survivors(session, closed, now)
            # Reports measure time to the CRM from the first sync; opportunities.synced_at moves on every sync.
            milestones.record_first_synced(session, newly, now)
            self._emit_synced(session, newly)
        for result, n in counts.items():
            if n:
                metrics.RECORDS.labels(self.crm, result).inc(n)
        log.info("sync.batch", extra={"crm": self.crm, "worker_id": self.worker_id, "size": len(jobs), **counts})

    def _store_crm_ids(self, session: Session, stored: dict[uuid.UUID, Synced], now: datetime) -> list[uuid.UUID]:
        """CRM id, link and sync time on each opportunity; returns those whose CRM record is new to us."""
        if not stored:
            return []
        o = Opportunity.__table__  # type: ignore[attr-defined]
        known = {
            row[0]: (row[1], row[2])
            for row in session.execute(sa.select(o.c.id, o.c.crm, o.c.crm_id).where(o.c.id.in_(list(stored))))
        }
        params = [
            {
                "b_id": opp_id,
                "b_crm_id": res.crm_id,
                "b_url": (res.url or self.adapter.record_url(res.crm_id))[:500],
            }
            for opp_id, res in stored.items()
            if opp_id in known
        ]
        if params:
            session.execute(
                sa.update(o)
                .where(o.c.id == sa.bindparam("b_id"))
                .values(crm=self.crm, crm_id=sa.bindparam("b_crm_id"), crm_url=sa.bindparam("b_url"), synced_at=now),
                params,
            )
        return [i for i, res in stored.items() if i in known and known[i] != (self.crm, res.crm_id)]

    def _store_survivors(self, session: Session, closed: Sequence[Closed], now: datetime) -> None:
        """A CRM's merge can give the survivor's record a new id (one that merges into a new record): store it."""
        o = Opportunity.__table__  # type: ignore[attr-defined]
        for c in closed:
            url = (c.survivor_url or self.adapter.record_url(c.survivor_crm_id))[:500]
            session.execute(
                sa.update(o)
                .where(o.c.id == c.survivor_id)
                .values(crm=self.crm, crm_id=c.survivor_crm_id, crm_url=url, synced_at=now)
            )

    def _emit_synced(self, session: Session, opportunity_ids: list[uuid.UUID]) -> None:
        """``opportunity.synced`` for opportunities that just got their CRM record, when notifications exist."""
        events.emit_many(
            session,
            [events.Event("opportunity.synced", opportunity_id=i, data={"crm": self.crm}) for i in opportunity_ids],
        )


def _retry_values(job: ClaimedJob, config: WorkerConfig, outcome: Retry, now: datetime) -> dict[str, Any]:
    attempts = job.attempts + 1
    if not outcome.keep and attempts >= config.max_attempts:
        # Transient for too long: a human looks at it (rate limits never end here: they only delay).
        return {
            "state": "dead",
            "attempts": attempts,
            "last_error_code": outcome.code[:100],
            "last_error": f"gave up after {attempts} attempts: {outcome.error}"[:MAX_ERROR_TEXT],
        }
    delay = max(outcome.delay, config.retry.backoff(attempts))
    return {
        "state": "retrying",
        "attempts": attempts,
        "next_attempt_at": now + timedelta(seconds=delay),
        "last_error_code": outcome.code[:100],
        "last_error": outcome.error[:MAX_ERROR_TEXT],
    }


def _text(exc: BaseException | str, *, field: str | None = None) -> str:
    # Adapter messages carry status, vendor code and request id only (integrations.base contract).
    text = str(exc)
    return f"{text} (field {field})" if field else text


# ---- process entry points ---------------------------------------------------------------------------------


def make_worker(settings: Settings, *, stop: threading.Event, worker_id: str | None = None) -> SyncWorker | None:
    adapter = build_adapter(settings)
    if adapter is None:
        return None
    engine = make_engine(settings.database_url, pool_size=2)
    return SyncWorker(engine, adapter, WorkerConfig.from_settings(settings, adapter), worker_id=worker_id, stop=stop)


def run_worker(settings: Settings, *, stop: threading.Event, worker_id: str | None = None) -> None:
    """Run the sync loop until ``stop`` is set. With no CRM configured there is nothing to do."""
    worker = make_worker(settings, stop=stop, worker_id=worker_id)
    if worker is None:
        log.warning("sync.no_crm", extra={"hint": f"set SIGNAL_PIPELINE_CRM to one of {choices()}"})
        return
    try:
        worker.run()
    finally:
        worker.engine.dispose()


def start_in_process(settings: Settings) -> Callable[[], None]:
    """Start the worker in a daemon thread (``serve``'s embedded mode); return a function that stops it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker, args=(settings,), kwargs={"stop": stop}, name="sync-worker", daemon=True
    )
    thread.start()

    def stop_worker() -> None:
        stop.set()
        thread.join(timeout=30)

    return stop_worker


def main() -> None:
    from app.core.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if settings.sync_metrics_port:
        metrics.serve_worker_metrics(settings.sync_metrics_port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_worker(settings, stop=stop, worker_id=os.environ.get("SIGNAL_PIPELINE_WORKER_ID"))


if __name__ == "__main__":
    main()
