"""Reading from the CRM: accounts/companies and users (incremental, crash-safe cursors) and outcomes.

Each stream writes its rows and its cursor in the same transaction as the last page, so a crash re-reads
from the previous cursor (upserts make that harmless) and the cursor never passes what was committed.
Outcomes come by batch read of the open synced opportunities (or, where the adapter offers it, by a
``SystemModstamp``-style incremental query) and by webhooks; applying one twice changes nothing.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.accounts.directory import bump_version
from app.accounts.models import Account
from app.core.db import transaction
from app.core.dbutil import insert_for
from app.core.timeutil import as_utc, utcnow
from app.opportunities import outcomes
from app.opportunities.models import Opportunity
from app.sync.models import CRMUser, RateBudget, SyncCursor, SyncJob
from app.sync.status import ACCOUNT_NOT_IN_CRM
from integrations.base import CRMAdapter
from schemas.crm import AccountRecord, OutcomeRecord, UserRecord

T = TypeVar("T")
PAGE = 500
# Clock skew allowance between us and the CRM when a stream has no modification times of its own.
SKEW = timedelta(seconds=60)


def _pages(items: Iterable[T], size: int = PAGE) -> Iterator[list[T]]:
    it = iter(items)
    while page := list(itertools.islice(it, size)):
        yield page


def pull_all(engine: Engine, adapter: CRMAdapter) -> dict[str, int]:
    """Users, then accounts (owners map onto users), then outcomes; counts of rows written per stream."""
    return {
        "users": pull_users(engine, adapter),
        "accounts": pull_accounts(engine, adapter),
        "outcomes": pull_outcomes(engine, adapter),
    }


# ---- cursors and the shared schedule ------------------------------------------------------------------------


def cursor(session: Session, crm: str, stream: str) -> datetime | None:
    row = session.get(SyncCursor, (crm, stream))
    return row.position if row else None


def _save_cursor(session: Session, crm: str, stream: str, position: datetime | None) -> None:
    row = session.get(SyncCursor, (crm, stream)) or SyncCursor(crm=crm, stream=stream)
    if position is not None and (row.position is None or position > row.position):
        row.position = position
    row.updated_at = utcnow()
    session.add(row)


def claim_schedule(engine: Engine, crm: str, interval_seconds: float) -> bool:
    """True for exactly one caller per interval across all worker processes (the pull schedule)."""
    now = utcnow()
    name = f"pull:{crm}"
    with transaction(engine) as session:
        table = RateBudget.__table__  # type: ignore[attr-defined]
        session.execute(
            insert_for(session, table)
            .values(name=name, tokens=0.0, capacity=0.0, refill_per_second=0.0, blocked_until=None, updated_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = session.get(RateBudget, name, with_for_update=True, populate_existing=True)
        assert row is not None
        if row.blocked_until is not None and row.blocked_until > now:
            return False
        row.blocked_until = now + timedelta(seconds=interval_seconds)
        row.updated_at = now
        session.add(row)
        return True


# ---- users ------------------------------------------------------------------------------------------------


def pull_users(engine: Engine, adapter: CRMAdapter) -> int:
    """CRM users into ``crm_users`` (contributor e-mail → CRM user id)."""
    crm = adapter.name
    started = utcnow()
    with Session(engine) as session:
        since = cursor(session, crm, "users")
    written = 0
    pages = list(_pages(adapter.pull_users(since))) or [[]]
    for i, page in enumerate(pages):
        with transaction(engine) as session:
            written += upsert_users(session, crm, page)
            if i == len(pages) - 1:
                _save_cursor(session, crm, "users", started - SKEW)
    return written


def upsert_users(session: Session, crm: str, users: Sequence[UserRecord]) -> int:
    if not users:
        return 0
    existing = {
        u.crm_id: u
        for u in session.exec(
            select(CRMUser).where(CRMUser.crm == crm, col(CRMUser.crm_id).in_([u.crm_id for u in users]))
        )
    }
    now = utcnow()
    for user in users:
        row = existing.get(user.crm_id) or CRMUser(crm=crm, crm_id=user.crm_id, email=user.email)
        row.email = user.email.lower()[:254]
        row.name = user.name[:200] if user.name else None
        row.active = user.active
        row.updated_at = now
        existing[user.crm_id] = row
        session.add(row)
    return len(users)


# ---- accounts ---------------------------------------------------------------------------------------------


def pull_accounts(engine: Engine, adapter: CRMAdapter) -> int:
    """Accounts/companies changed since the cursor into ``accounts``; bumps the directory version."""
    crm = adapter.name
    started = utcnow()
    with Session(engine) as session:
        since = cursor(session, crm, "accounts")
    written = 0
    newest: datetime | None = None
    pages = list(_pages(adapter.pull_accounts(since))) or [[]]
    for i, page in enumerate(pages):
        for a in page:
            if a.updated_at is not None:
                at = as_utc(a.updated_at)
                newest = at if newest is None or at > newest else newest
        with transaction(engine) as session:
            written += upsert_accounts(session, crm, page)
            if i == len(pages) - 1:
                # ">= cursor" on the next pull re-reads boundary ties; upserts make that harmless.
                position = min(newest, started) if newest else (since if page else started - SKEW)
                _save_cursor(session, crm, "accounts", position)
    return written


def upsert_accounts(session: Session, crm: str, accounts: Sequence[AccountRecord]) -> int:
    if not accounts:
        return 0
    existing = {
        a.crm_id: a
        for a in session.exec(
            select(Account).where(Account.crm == crm, col(Account.crm_id).in_([a.crm_id for a in accounts]))
        )
    }
    now = utcnow()
    adopted = _accounts_awaiting_crm(session, crm, [a for a in accounts if a.crm_id not in existing])
    version = bump_version(session)
    for rec in accounts:
        row = existing.get(rec.crm_id) or adopted.get(rec.crm_id) or Account(crm=crm, crm_id=rec.crm_id, name=rec.name)
        row.crm, row.crm_id = crm, rec.crm_id
        row.name = rec.name[:300]
        row.legal_name = rec.legal_name[:300] if rec.legal_name else None
        row.domains = sorted({d.lower() for d in rec.domains})
        row.country = rec.country[:2].upper() if rec.country else None
        row.owner_crm_id = rec.owner_crm_id
        row.owner = rec.owner_email[:254] if rec.owner_email else None
        row.updated_at = now
        row.version = version
        existing[rec.crm_id] = row
        session.add(row)
    if adopted:
        _release_waiting_jobs(session, crm, [a.id for a in adopted.values()], now)
    return len(accounts)


def _accounts_awaiting_crm(session: Session, crm: str, new: Sequence[AccountRecord]) -> dict[str, Account]:
    """Local accounts (imported, not from this CRM) that new CRM companies match, by CRM id of the company.

    Only accounts with an opportunity waiting for its company (ACCOUNT_NOT_IN_CRM) are matched, and only on a
    domain that exactly one such account and exactly one new company hold: an ambiguous match stays waiting
    for a person rather than putting a deal on the wrong company.
    """
    wanted = {d.lower(): rec.crm_id for rec in new for d in rec.domains}
    if not wanted:
        return {}
    # By id in a subquery: PostgreSQL cannot DISTINCT over the JSON columns of a whole account row.
    waiting_ids = (
        select(Opportunity.account_id)
        .join(SyncJob, col(SyncJob.opportunity_id) == col(Opportunity.id))
        .where(SyncJob.crm == crm, SyncJob.last_error_code == ACCOUNT_NOT_IN_CRM)
    )
    waiting = session.exec(select(Account).where(Account.crm != crm, col(Account.id).in_(waiting_ids))).all()
    if not waiting:
        return {}
    holders: dict[str, list[Account]] = defaultdict(list)
    for account in waiting:
        for d in {d.lower() for d in account.domains}:
            holders[d].append(account)
    companies: dict[str, set[str]] = defaultdict(set)
    for rec in new:
        for d in {d.lower() for d in rec.domains}:
            companies[d].add(rec.crm_id)
    matched: dict[str, Account] = {}
    taken: set[uuid.UUID] = set()
    for domain, crm_id in wanted.items():
        local = holders.get(domain, [])
        if len(local) == 1 and len(companies[domain]) == 1 and crm_id not in matched and local[0].id not in taken:
            matched[crm_id] = local[0]
            taken.add(local[0].id)
    return matched


def _release_waiting_jobs(session: Session, crm: str, account_ids: Sequence[uuid.UUID], now: datetime) -> None:
    """The accounts now have their CRM company: their waiting opportunities are due at once."""
    opps = select(Opportunity.id).where(col(Opportunity.account_id).in_(account_ids))
    session.execute(
        sa.update(SyncJob)
        .where(
            SyncJob.crm == crm,  # type: ignore[arg-type]
            SyncJob.last_error_code == ACCOUNT_NOT_IN_CRM,  # type: ignore[arg-type]
            col(SyncJob.opportunity_id).in_(opps),
            col(SyncJob.state).in_(("pending", "retrying")),
        )
        .values(state="pending", next_attempt_at=now, updated_at=now)
    )


# ---- outcomes ---------------------------------------------------------------------------------------------


def pull_outcomes(engine: Engine, adapter: CRMAdapter) -> int:
    """Read the CRM's outcome of every open synced opportunity and apply what changed; count applied."""
    crm = adapter.name
    since_fn = getattr(adapter, "pull_outcomes_since", None)
    applied = 0
    if since_fn is not None:
        started = utcnow()
        with Session(engine) as session:
            since = cursor(session, crm, "outcomes")
        pages = list(_pages(since_fn(since))) or [[]]
        for i, page in enumerate(pages):
            with transaction(engine) as session:
                applied += apply_outcomes(session, crm, page, source=f"{crm}.poll")
                if i == len(pages) - 1:
                    _save_cursor(session, crm, "outcomes", started - SKEW)
        return applied
    with Session(engine) as session:
        ids = [
            str(i)
            for i in session.exec(
                select(Opportunity.id)
                .where(
                    Opportunity.crm == crm,
                    col(Opportunity.crm_id).is_not(None),
                    Opportunity.status == "open",
                    col(Opportunity.merged_into_id).is_(None),
                )
                .order_by(col(Opportunity.id))
            )
        ]
    for chunk in _pages(ids, PAGE):
        outcomes = list(adapter.pull_outcomes(chunk))
        with transaction(engine) as session:
            applied += apply_outcomes(session, crm, outcomes, source=f"{crm}.poll")
    return applied


def apply_outcomes(session: Session, crm: str, outcomes: Sequence[OutcomeRecord], *, source: str) -> int:
    """Apply CRM outcomes to their opportunities (found by our id, else by CRM id); count those that changed."""
    changed = 0
    for rec in outcomes:
        opp = _find(session, crm, rec)
        if opp is not None and apply_outcome(session, opp, rec, source=source):
            changed += 1
    return changed


def _find(session: Session, crm: str, rec: OutcomeRecord) -> Opportunity | None:
    try:
        opp = session.get(Opportunity, uuid.UUID(rec.opportunity_id))
    except ValueError:
        opp = None
    if opp is None and rec.crm_id:
        opp = session.exec(select(Opportunity).where(Opportunity.crm == crm, Opportunity.crm_id == rec.crm_id)).first()
    if opp is not None and opp.merged_into_id is not None:
        # A merged-away opportunity's record was closed as a duplicate by us: that is no outcome to report.
        return None
    return opp


def apply_outcome(session: Session, opp: Opportunity, rec: OutcomeRecord, *, source: str) -> bool:
    """A CRM outcome onto the opportunity. Outcomes are the CRM's data: they never bump the version or cause a sync."""
    return outcomes.apply_outcome(
        session,
        opp,
        status=rec.status.value,
        stage=rec.stage,
        amount=rec.amount,
        currency=rec.currency,
        close_date=rec.close_date,
        note=rec.note,
        changed_at=rec.changed_at or utcnow(),
        source=source,
        stage_changed_at=rec.stage_changed_at,
    )
