"""Opportunity rules: placing a signal, crediting people, keeping the CRM outbox current. Never commits."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, delete, select

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.core.auth import Principal
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.ids import uuid7
from app.core.rows import new_row
from app.core.timeutil import utcnow
from app.duplicates import labels
from app.notifications.events import Event, emit_many
from app.opportunities.models import Credit, Opportunity, OpportunityEvent
from app.opportunities.repo import OpportunityRepo
from app.signals.models import Signal

ORIGINATOR = "originator"
CO_CONTRIBUTOR = "co_contributor"


def new_opportunity(account: Account, signal: Signal) -> Opportunity:
    """An unsaved opportunity opened by ``signal`` (version 0 until its first signal is added)."""
    now = utcnow()
    return new_row(
        Opportunity,
        id=uuid7(),
        account_id=account.id,
        title=signal.title,
        kinds=[],
        signal_count=0,
        first_seen_at=signal.observed_at,
        last_seen_at=signal.observed_at,
        version=0,
        created_at=now,
        updated_at=now,
    )


def open_opportunity(session: Session, account: Account, signal: Signal) -> Opportunity:
    opp = new_opportunity(account, signal)
    session.add(opp)
    session.flush()
    return opp


def absorb(opp: Opportunity, signal: Signal) -> None:
    """Attach ``signal`` to ``opp`` and update the opportunity's summary (in memory)."""
    signal.opportunity_id = opp.id
    opp.signal_count += 1
    if signal.kind not in opp.kinds:
        opp.kinds = [*opp.kinds, signal.kind]
    opp.first_seen_at = min(opp.first_seen_at, signal.observed_at)
    opp.last_seen_at = max(opp.last_seen_at, signal.observed_at)
    if signal.value_amount is not None and opp.estimated_currency in (None, signal.value_currency):
        opp.estimated_amount = max(opp.estimated_amount or Decimal(0), signal.value_amount)
        opp.estimated_currency = signal.value_currency


def credit_signals(
    session: Session, placed: list[tuple[Opportunity, Signal]], *, fresh: set[uuid.UUID] | None = None
) -> None:
    """A person is credited once per opportunity; the earliest observer is the originator.

    Loads the existing credits of every opportunity involved (but the ``fresh`` ones, which have none yet) in
    one query, then settles roles in memory.
    """
    ids = list({opp.id for opp, _ in placed} - (fresh or set()))
    credits: dict[uuid.UUID, dict[uuid.UUID, Credit]] = defaultdict(dict)
    if ids:
        for c in session.exec(select(Credit).where(col(Credit.opportunity_id).in_(ids))):
            credits[c.opportunity_id][c.contributor_id] = c
    for opp, signal in placed:
        mine = credits[opp.id].get(signal.contributor_id)
        if mine is None:
            mine = new_row(
                Credit,
                id=uuid7(),
                opportunity_id=opp.id,
                contributor_id=signal.contributor_id,
                role=CO_CONTRIBUTOR,
                first_signal_id=signal.id,
                first_observed_at=signal.observed_at,
                signal_count=0,
            )
            credits[opp.id][signal.contributor_id] = mine
        mine.signal_count += 1
        if signal.observed_at < mine.first_observed_at:
            mine.first_observed_at, mine.first_signal_id = signal.observed_at, signal.id
    for people in credits.values():
        assign_roles(session, list(people.values()))


def assign_roles(session: Session, credits: list[Credit]) -> None:
    """The one originator rule: the earliest observer (ties: the earlier signal id) originated it."""
    if not credits:
        return
    first = min(credits, key=lambda c: (c.first_observed_at, c.first_signal_id))
    for c in credits:
        role = ORIGINATOR if c is first else CO_CONTRIBUTOR
        if c.role != role or c not in session:
            c.role = role
            session.add(c)


def touch(session: Session, opps: list[Opportunity], crm: str | None) -> None:
    """Local changes the CRM should see: bump the versions and, with a CRM configured, mark them behind."""
    now = utcnow()
    for opp in opps:
        opp.version += 1
        opp.updated_at = now
        session.add(opp)
    session.flush()
    if crm:
        OpportunityRepo(session).mark_dirty(opps, crm)


def recompute_credits(session: Session, opp: Opportunity) -> None:
    """Rebuild an opportunity's credits from its signals (after a merge or detach)."""
    session.flush()
    session.execute(delete(Credit).where(col(Credit.opportunity_id) == opp.id))
    signals = sorted(
        session.exec(select(Signal).where(Signal.opportunity_id == opp.id)), key=lambda s: (s.observed_at, s.id)
    )
    credit_signals(session, [(opp, s) for s in signals], fresh={opp.id})
    opp.signal_count = len(signals)
    opp.kinds = sorted({s.kind for s in signals})
    if signals:
        opp.first_seen_at = min(s.observed_at for s in signals)
        opp.last_seen_at = max(s.observed_at for s in signals)
    session.add(opp)


def get(session: Session, opportunity_id: uuid.UUID, principal: Principal | None = None) -> Opportunity:
    """An opportunity by id; 404 if unknown or, for a key bound to a contributor, not credited to them."""
    opp = session.get(Opportunity, opportunity_id)
    if opp is None or (
        principal is not None
        and principal.contributor_id is not None
        and session.exec(
            select(Credit.id).where(Credit.opportunity_id == opp.id, Credit.contributor_id == principal.contributor_id)
        ).first()
        is None
    ):
        raise NotFound(f"no opportunity {opportunity_id}")
    return opp


def record(session: Session, opp: Opportunity, kind: str, actor: str, **detail: Any) -> None:
    session.add(OpportunityEvent(opportunity_id=opp.id, kind=kind, actor=actor, detail=detail))


def lock(session: Session, account_id: uuid.UUID, *rows: Opportunity | Signal) -> None:
    """Take the account's lock, as ingest does, then re-read and lock ``rows``: corrections never race
    clustering, nor each other."""
    OpportunityRepo(session).lock_account(account_id)
    for row in rows:
        session.refresh(row, with_for_update=True)


def merge(session: Session, survivor: Opportunity, absorbed: Opportunity, actor: str, crm: str | None) -> None:
    """Move every signal of ``absorbed`` into ``survivor``; credit moves with them, the absorbed one points on.

    The one merge of two opportunities: the merge endpoint and an accepted duplicate both call it. With a CRM,
    both are marked behind: the survivor's record gets the combined contributors, and the absorbed one's open
    record is closed by the sync worker the way the CRM closes a duplicate (``CRMAdapter.close_duplicates``),
    so no orphan deal stays open in a seller's pipeline. A record the seller already closed is left as it is.
    """
    if survivor.id == absorbed.id:
        raise InvalidInput("an opportunity cannot absorb itself", code="merge_self")
    if survivor.account_id != absorbed.account_id:
        raise Conflict("the opportunities belong to different accounts", code="different_accounts")
    lock(session, survivor.account_id, survivor, absorbed)
    if absorbed.merged_into_id is not None:
        raise Conflict(
            f"opportunity {absorbed.id} was already merged into {absorbed.merged_into_id}", code="already_merged"
        )
    if survivor.merged_into_id is not None:
        raise Conflict(
            f"opportunity {survivor.id} was merged into {survivor.merged_into_id}; merge into that one",
            code="already_merged",
        )
    moved = list(session.exec(select(Signal).where(Signal.opportunity_id == absorbed.id)))
    for s in moved:
        s.opportunity_id = survivor.id
        session.add(s)
    absorbed.merged_into_id = survivor.id
    recompute_credits(session, survivor)
    recompute_credits(session, absorbed)
    record(session, survivor, "merge", actor, absorbed=str(absorbed.id), signals=[str(s.id) for s in moved])
    record(session, absorbed, "merged_into", actor, survivor=str(survivor.id))
    labels.record(
        session,
        labels.MERGE,
        True,
        actor,
        opportunity_id=survivor.id,
        other_opportunity_id=absorbed.id,
        account_id=survivor.account_id,
        signals=[str(s.id) for s in moved],
    )
    absorbed.updated_at = utcnow()  # reports rebuild what changed
    session.add(absorbed)
    touch(session, [survivor], crm)
    if crm and absorbed.status == "open":
        touch(session, [absorbed], crm)  # the worker closes its record, or finds it has none
    else:
        OpportunityRepo(session).settle_sync(absorbed)
    emit_many(
        session,
        [Event("signal.merged", survivor.id, s.id, {"absorbed_opportunity_id": str(absorbed.id)}) for s in moved],
    )


def detach(session: Session, signal: Signal, actor: str, crm: str | None) -> Opportunity:
    """Move ``signal`` out of its opportunity into a new one of its own."""
    if signal.account_id is not None:
        lock(session, signal.account_id, signal)
    if signal.opportunity_id is None:
        raise Conflict("the signal is not in an opportunity (it waits for attribution)", code="not_placed")
    old = session.get(Opportunity, signal.opportunity_id, populate_existing=True)
    assert old is not None
    if old.signal_count <= 1:
        raise Conflict("the signal is the only one in its opportunity; nothing to detach from", code="only_signal")
    account = session.get(Account, old.account_id)
    assert account is not None
    new = open_opportunity(session, account, signal)
    joined = dict(signal.match)
    signal.opportunity_id = new.id
    signal.match = {"reason": f"detached from {old.id} by {actor}", "score": None}
    session.add(signal)
    recompute_credits(session, old)
    recompute_credits(session, new)
    record(session, old, "detach", actor, signal=str(signal.id), new_opportunity=str(new.id))
    record(session, new, "detached_from", actor, signal=str(signal.id), old_opportunity=str(old.id))
    # The signal and its old opportunity are different needs; the model's inputs from when it joined, if the
    # model placed it there, make the label usable for calibration.
    labels.record(
        session,
        labels.DETACH,
        False,
        actor,
        signal_id=signal.id,
        opportunity_id=old.id,
        account_id=old.account_id,
        score=joined.get("score") if isinstance(joined.get("score"), float) else None,
        features=joined.get("features") or [],
        outcome=joined.get("outcome"),
    )
    touch(session, [old, new], crm)
    return new


def credits_read(session: Session, opp: Opportunity) -> list[tuple[Credit, Contributor]]:
    return OpportunityRepo(session).credits_with_people(opp.id)
