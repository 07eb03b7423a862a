"""Opportunity rules: placing a signal, crediting people, keeping the CRM outbox current. Never commits."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session

from app.models import Account, Credit, Opportunity, Signal
from app.opportunities.repo import OpportunityRepo
from app.timeutil import utcnow

ORIGINATOR = "originator"
CO_CONTRIBUTOR = "co_contributor"


def open_opportunity(session: Session, account: Account, signal: Signal) -> Opportunity:
    opp = Opportunity(
        account_id=account.id,
        title=signal.title,
        kinds=[signal.kind],
        signal_count=0,
        first_seen_at=signal.observed_at,
        last_seen_at=signal.observed_at,
        version=0,
    )
    session.add(opp)
    session.flush()
    return opp


def add_signal(session: Session, opp: Opportunity, signal: Signal, crm: str | None) -> None:
    """Attach ``signal`` to ``opp``: credit its contributor, update the summary, mark the CRM behind."""
    signal.opportunity_id = opp.id
    opp.signal_count += 1
    if signal.kind not in opp.kinds:
        opp.kinds = [*opp.kinds, signal.kind]
    if signal.observed_at < opp.first_seen_at:
        opp.first_seen_at = signal.observed_at
    opp.last_seen_at = max(opp.last_seen_at, signal.observed_at)
    if signal.value_amount is not None and (opp.estimated_currency in (None, signal.value_currency)):
        opp.estimated_amount = max(opp.estimated_amount or Decimal(0), signal.value_amount)
        opp.estimated_currency = signal.value_currency
    session.add(signal)
    credit_signal(session, opp, signal)
    touch(session, opp, crm)


def credit_signal(session: Session, opp: Opportunity, signal: Signal) -> None:
    """A person is credited once per opportunity; the earliest observer is the originator."""
    repo = OpportunityRepo(session)
    credits = repo.credits(opp.id)
    mine = next((c for c in credits if c.contributor_id == signal.contributor_id), None)
    if mine is None:
        mine = Credit(
            opportunity_id=opp.id,
            contributor_id=signal.contributor_id,
            role=CO_CONTRIBUTOR,
            first_signal_id=signal.id,
            first_observed_at=signal.observed_at,
            signal_count=0,
        )
        credits.append(mine)
    mine.signal_count += 1
    if signal.observed_at < mine.first_observed_at:
        mine.first_observed_at, mine.first_signal_id = signal.observed_at, signal.id
    assign_roles(session, credits)


def assign_roles(session: Session, credits: list[Credit]) -> None:
    if not credits:
        return
    first = min(credits, key=lambda c: (c.first_observed_at, c.first_signal_id))
    for c in credits:
        c.role = ORIGINATOR if c is first else CO_CONTRIBUTOR
        session.add(c)


def touch(session: Session, opp: Opportunity, crm: str | None) -> None:
    """A local change the CRM should see: bump the version and, with a CRM configured, mark it behind."""
    opp.version += 1
    opp.updated_at = utcnow()
    session.add(opp)
    session.flush()
    if crm:
        OpportunityRepo(session).mark_dirty(opp, crm)
