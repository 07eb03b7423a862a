"""What the outbox says about each CRM: counts by state, lag, recent errors; and replaying a dead job."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.errors import Conflict, NotFound
from app.core.timeutil import utcnow
from app.sync.models import RateBudget, SyncJob
from schemas.sync import CRMSyncStatus, SyncError, SyncJobRead

# The code a new opportunity waits under while its account has no record in the CRM (set by the worker).
ACCOUNT_NOT_IN_CRM = "ACCOUNT_NOT_IN_CRM"


def read_status(engine: Engine, *, last_errors: int = 10) -> list[CRMSyncStatus]:
    now = utcnow()
    t = SyncJob.__table__  # type: ignore[attr-defined]
    out: dict[str, CRMSyncStatus] = {}
    with Session(engine) as session:
        for crm, state, count in session.execute(
            sa.select(t.c.crm, t.c.state, sa.func.count()).group_by(t.c.crm, t.c.state)
        ):
            entry = out.setdefault(crm, CRMSyncStatus(crm=crm))
            if state in ("pending", "retrying", "dead", "done"):
                setattr(entry, state, int(count))
        active = t.c.state.in_(("pending", "retrying"))
        for crm, oldest, nxt, flying, waiting in session.execute(
            sa.select(
                t.c.crm,
                sa.func.min(t.c.dirty_since),
                sa.func.min(sa.case((t.c.state == "retrying", t.c.next_attempt_at))),
                sa.func.sum(sa.case((t.c.claimed_until > now, 1), else_=0)),
                sa.func.sum(sa.case((t.c.last_error_code == ACCOUNT_NOT_IN_CRM, 1), else_=0)),
            )
            .where(active)
            .group_by(t.c.crm)
        ):
            entry = out.setdefault(crm, CRMSyncStatus(crm=crm))
            oldest = _aware(oldest)
            entry.oldest_dirty_since = oldest
            entry.lag_seconds = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
            entry.next_attempt_at = _aware(nxt)
            entry.in_flight = int(flying or 0)
            entry.waiting_for_account = int(waiting or 0)
        for entry in out.values():
            budget = session.get(RateBudget, entry.crm)
            if budget is not None and budget.blocked_until and budget.blocked_until > now:
                entry.rate_limited_until = budget.blocked_until
            if last_errors:
                jobs = session.exec(
                    select(SyncJob)
                    .where(SyncJob.crm == entry.crm, col(SyncJob.last_error_code).is_not(None))
                    .order_by(col(SyncJob.updated_at).desc())
                    .limit(last_errors)
                )
                entry.last_errors = [
                    SyncError(
                        job_id=j.id,
                        opportunity_id=j.opportunity_id,
                        state=j.state,
                        attempts=j.attempts,
                        code=j.last_error_code,
                        message=j.last_error,
                        at=j.updated_at,
                    )
                    for j in jobs
                ]
    return sorted(out.values(), key=lambda e: e.crm)


def _aware(value: object) -> datetime | None:
    """Aggregates bypass the column type on SQLite (text, naive UTC); normalise them."""
    if value is None:
        return None
    from app.core.timeutil import as_utc

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return as_utc(value)


def retry_dead(session: Session, job_id: uuid.UUID) -> SyncJob:
    """Make a dead job due now with a fresh attempt count; 404 if unknown, 409 if it is not dead."""
    job = session.get(SyncJob, job_id, with_for_update=True)
    if job is None:
        raise NotFound(f"no sync job {job_id}")
    if job.state != "dead":
        raise Conflict(f"sync job {job_id} is {job.state}, not dead", code="sync_job_not_dead")
    now = utcnow()
    job.state = "pending"
    job.attempts = 0
    job.next_attempt_at = now
    job.claimed_by = job.claimed_until = None
    job.dirty_since = job.dirty_since or now
    job.updated_at = now
    session.add(job)
    return job


def job_read(job: SyncJob) -> SyncJobRead:
    return SyncJobRead.model_validate(job, from_attributes=True)
