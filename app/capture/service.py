"""Capture rules: build the configured sources from the registry, turn a verified payload into a signal through
the same ingest as REST, keep deferred work durable, and send follow-ups about captured signals. Never commits
a caller's session; the functions that own a transaction take the engine and say so.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from app.accounts.models import Account
from app.accounts.service import search as search_accounts
from app.capture.models import CaptureTask
from app.capture.repo import CaptureRepo
from app.core.db import transaction
from app.core.errors import AppError
from app.core.timeutil import utcnow
from app.notifications.events import Event
from app.opportunities.models import Opportunity
from app.signals import service as signals
from app.signals.models import Signal
from integrations import registry
from integrations.capture import CaptureError, CaptureSource, Deferred
from schemas.capture import AccountChoice, CapturedSignal, CaptureNotice
from schemas.signals import SignalCreate, SignalRead

log = logging.getLogger("signal_pipeline.capture")

# Event kinds a source may follow; others never make a follow-up.
FOLLOWABLE = frozenset({"signal.attributed", "signal.merged", "opportunity.synced", "opportunity.closed"})
# Sent once per signal however often the event repeats (every sync emits opportunity.synced).
ONCE_PER_SIGNAL = frozenset({"opportunity.synced"})
OUTCOMES = frozenset({"open", "won", "lost", "not_pursued"})
# Candidates for settings: lease, attempts, backoff.
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 10
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(hours=1)
INGEST_ATTEMPTS = 3


def build_sources(configured: Mapping[str, BaseModel] | None = None) -> dict[str, CaptureSource]:
    """Every registered capture source whose settings are complete, by name.

    ``configured`` gives settings instances for some sources (the sandbox's, a test's); the others read their
    own ``SIGNAL_PIPELINE_<NAME>_*`` variables, and a source missing a required one stays off (its routes 404).
    """
    sources: dict[str, CaptureSource] = {}
    for name in registry.names("capture"):
        vendor = registry.get("capture", name)
        settings = (configured or {}).get(name)
        if settings is None:
            try:
                settings = vendor.settings_model()
            except ValidationError as exc:
                missing = sorted({str(e["loc"][0]) for e in exc.errors() if e["type"] == "missing"})
                log.info("capture.source_off", extra={"source": name, "missing": missing})
                continue
        sources[name] = vendor.build(settings)
    return sources


def sandbox_mounts(base_url: str) -> list[tuple[str, Any, BaseModel]]:
    """(name, ASGI app, settings pointing at it) for every capture vendor with a local sandbox."""
    mounts = []
    for name in registry.names("capture"):
        vendor = registry.get("capture", name)
        if vendor.sandbox is not None:
            app, settings = vendor.sandbox(f"{base_url.rstrip('/')}/{name}")
            mounts.append((name, app, settings))
    return mounts


def captured(read: SignalRead, created: bool) -> CapturedSignal:
    return CapturedSignal(
        signal_id=read.id,
        created=created,
        status=read.status,
        title=read.title,
        account_name=read.account.name if read.account else None,
        attribution_method=read.attribution.method if read.attribution else None,
        confidence=read.attribution.confidence if read.attribution else None,
        opportunity_id=read.opportunity.id if read.opportunity else None,
        opportunity_url=read.opportunity.crm_url if read.opportunity else None,
    )


@dataclass
class ServiceContext:
    """The service as a capture source sees it (``integrations.capture.CaptureContext``)."""

    engine: Engine
    config: signals.IngestConfig
    source: CaptureSource

    @property
    def kinds(self) -> Sequence[str]:
        return sorted(self.config.kinds)

    def find_accounts(self, query: str, limit: int) -> list[AccountChoice]:
        with transaction(self.engine) as session:
            found = search_accounts(session, query, None, limit)
            return [AccountChoice(id=a.id, crm_id=a.crm_id, name=a.name) for a in found]

    def capture(self, draft: SignalCreate, reply_to: Mapping[str, Any]) -> CapturedSignal:
        """Ingest in its own transaction; a unique-index race with a concurrent delivery runs again and then
        finds the winner's signal (created=False)."""
        for attempt in range(INGEST_ATTEMPTS):
            try:
                with transaction(self.engine) as session:
                    result = signals.ingest(session, self.config, draft, None)
                    CaptureRepo(session).add_origin(result.signal.id, self.source.name, self.source.follows, reply_to)
                    return captured(result.read, result.created)
            except (IntegrityError, OperationalError) as exc:
                if attempt == INGEST_ATTEMPTS - 1 or not signals.retryable(exc):
                    raise
        raise AssertionError("unreachable")


def store_deferred(session: Session, source: str, work: Deferred) -> uuid.UUID | None:
    """Keep deferred work in the caller's transaction; None when the same delivery was stored before."""
    ids = CaptureRepo(session).add_tasks(
        [{"source": source, "kind": "inbound", "dedup_key": work.key[:300], "payload": work.payload}]
    )
    return ids[0] if ids else None


def enqueue_follow_ups(session: Session, events: Sequence[Event]) -> None:
    """Follow-up tasks for the events that concern captured signals whose source follows that kind of event.

    Runs in the emitting transaction with at most two statements. A signal's origin is stored after its
    ingest, so the events of the capture itself (answered by the source's own confirmation) make none.
    """
    wanted = [e for e in events if e.kind in FOLLOWABLE]
    if not wanted:
        return
    signal_ids = {e.signal_id for e in wanted if e.signal_id is not None}
    opportunity_ids = {e.opportunity_id for e in wanted if e.signal_id is None and e.opportunity_id is not None}
    repo = CaptureRepo(session)
    origins = repo.origins_for(signal_ids, opportunity_ids)
    if not origins:
        return
    rows = []
    for event in wanted:
        for origin, opportunity_id in origins:
            concerned = (
                origin.signal_id == event.signal_id
                if event.signal_id is not None
                else opportunity_id == event.opportunity_id
            )
            if not concerned or event.kind not in origin.follows:
                continue
            once = event.kind in ONCE_PER_SIGNAL
            key = f"{event.kind}:{origin.signal_id}" + ("" if once else f":{uuid.uuid4().hex}")
            payload = {
                "event": event.kind,
                "signal_id": str(origin.signal_id),
                "opportunity_id": str(event.opportunity_id or opportunity_id or "") or None,
            }
            rows.append({"source": origin.source, "kind": "follow_up", "dedup_key": key, "payload": payload})
    repo.add_tasks(rows)


def build_notice(session: Session, payload: Mapping[str, Any]) -> CaptureNotice | None:
    """The notice for a follow-up, read now (the outcome note as it is when sent); None if the signal is gone."""
    signal_id = uuid.UUID(payload["signal_id"])
    signal = session.get(Signal, signal_id)
    origin = CaptureRepo(session).origin(signal_id)
    if signal is None or origin is None:
        return None
    opp_id = payload.get("opportunity_id") or signal.opportunity_id
    opp = session.get(Opportunity, uuid.UUID(str(opp_id))) if opp_id else None
    account = session.get(Account, signal.account_id) if signal.account_id else None
    return CaptureNotice(
        event=payload["event"],
        signal_id=signal.id,
        title=signal.title,
        reply_to=origin.reply_to,
        account_name=account.name if account else None,
        opportunity_id=opp.id if opp else None,
        opportunity_url=opp.crm_url if opp else None,
        outcome=opp.status if opp is not None and opp.status in OUTCOMES else None,
        note=opp.note if opp else None,
    )


def backoff(attempts: int) -> timedelta:
    raw: timedelta = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)
    return raw * (0.8 + 0.4 * random.random())


@dataclass
class TaskRunner:
    """Runs capture tasks: right after the answer for the request that stored one, and from a loop for any left
    behind (a crash, a vendor outage). At least once: a task is leased, run, then settled."""

    engine: Engine
    config: signals.IngestConfig
    sources: Mapping[str, CaptureSource]

    def run_due(self, limit: int = 50, task_id: uuid.UUID | None = None) -> int:
        """Claim and run up to ``limit`` due tasks (only ``task_id`` when given); returns how many ran."""
        now = utcnow()
        with transaction(self.engine) as session:
            claimed = [
                (t.id, t.source, t.kind, dict(t.payload), t.attempts)
                for t in CaptureRepo(session).claim(now, now + LEASE, limit, task_id)
            ]
        for claim in claimed:
            self._run(*claim)
        return len(claimed)

    def _run(self, task_id: uuid.UUID, name: str, kind: str, payload: dict[str, Any], attempts: int) -> None:
        source = self.sources.get(name)
        error: str | None = None
        retry = False
        try:
            if source is None:
                error = f"capture source {name!r} is not configured"
            elif kind == "inbound":
                source.process(payload, ServiceContext(self.engine, self.config, source))
            else:
                with transaction(self.engine) as session:
                    notice = build_notice(session, payload)
                if notice is not None:
                    source.follow_up(notice)
        except CaptureError as exc:
            error, retry = str(exc)[:300], exc.retryable
        except AppError as exc:  # the draft failed the service's validation: running again cannot help
            error = f"{exc.code}: {exc.detail or exc.title}"[:300]
        except Exception as exc:  # anything else may be transient; its type says what happened, never its text
            error, retry = type(exc).__name__, True
        self._settle(task_id, attempts + 1, error, retry)
        log.info("capture.task", extra={"source": name, "kind": kind, "ok": error is None, "retry": retry})

    def _settle(self, task_id: uuid.UUID, attempts: int, error: str | None, retry: bool) -> None:
        with transaction(self.engine) as session:
            task = session.get(CaptureTask, task_id)
            if task is None:
                return
            task.attempts, task.last_error = attempts, error
            if error is None:
                task.state, task.done_at = "done", utcnow()
            elif retry and attempts < MAX_ATTEMPTS:
                task.next_attempt_at = utcnow() + backoff(attempts)
            else:
                task.state = "dead"
            session.add(task)

    def run_loop(self, stop: threading.Event, *, interval: float = 1.0) -> None:
        """Run due tasks until ``stop`` is set. For the worker and the embedded server."""
        while not stop.is_set():
            try:
                ran = self.run_due()
            except Exception as exc:  # the loop must outlive any one failure
                log.warning("capture_loop_error", extra={"error_type": type(exc).__name__})
                ran = 0
            if ran == 0:
                stop.wait(interval)
