"""Outcomes: what became of an opportunity (status, stage, amount, close date, the seller's note).

One CRM-neutral entry point, used by the CRM read-back and by POST /v1/opportunities/{id}/outcome alike.
Never commits.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from app.core.timeutil import as_utc, utcnow
from app.notifications.events import emit
from app.opportunities.models import Opportunity, OpportunityEvent
from app.reports.milestones import record_milestone

STATUSES = ("open", "won", "lost", "not_pursued")
CLOSED = frozenset(("won", "lost", "not_pursued"))


def apply_outcome(
    session: Session,
    opportunity: Opportunity,
    *,
    status: str,
    stage: str | None,
    amount: Decimal | None,
    currency: str | None,
    close_date: date | None,
    note: str | None,
    changed_at: datetime | None,
    source: str,
    stage_changed_at: datetime | None = None,
) -> bool:
    """Set the outcome fields; returns False (and records nothing) when nothing changed.

    A change of stage or status sets ``stage_changed_at`` (to the CRM's own stage-history time when it gives one,
    else ``changed_at``); closing sets ``closed_at`` (reopening clears it).
    Records an ``outcome`` OpportunityEvent and emits ``opportunity.stage_changed`` or ``opportunity.closed``.
    Does not bump the sync version: the outcome comes from the seller's side, not ours.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    when = as_utc(changed_at) if changed_at else utcnow()
    wanted: dict[str, Any] = {
        "status": status,
        "stage": stage,
        "amount": None if amount is None else Decimal(amount).quantize(Decimal("0.01")),
        "currency": currency.upper() if currency else None,
        "close_date": close_date,
        "note": note,
    }
    changed = [name for name, value in wanted.items() if _differs(getattr(opportunity, name), value)]
    if not changed:
        return False
    previous_status = opportunity.status
    for name in changed:
        setattr(opportunity, name, wanted[name])
    stage_moved = "stage" in changed or "status" in changed
    if stage_moved:
        when = as_utc(stage_changed_at) if stage_changed_at else when
        opportunity.stage_changed_at = when
        record_milestone(session, opportunity.id, first_stage_changed_at=when)
    closes = status in CLOSED and previous_status not in CLOSED
    if closes:
        opportunity.closed_at = when
    elif status == "open":
        opportunity.closed_at = None
    opportunity.updated_at = utcnow()
    session.add(opportunity)
    # The note is the seller's free text: the record and the event say that it changed, not what it says.
    outcome = {
        "status": status,
        "previous_status": previous_status,
        "stage": stage,
        "amount": str(wanted["amount"]) if wanted["amount"] is not None else None,
        "currency": wanted["currency"],
        "close_date": close_date.isoformat() if close_date else None,
        "changed_at": when.isoformat(),
    }
    session.add(
        OpportunityEvent(
            opportunity_id=opportunity.id, kind="outcome", actor=source, detail={"changed": changed, **outcome}
        )
    )
    session.flush()
    data = {**outcome, "source": source}
    if closes:
        emit(session, "opportunity.closed", opportunity_id=opportunity.id, data=data)
    elif stage_moved:
        emit(session, "opportunity.stage_changed", opportunity_id=opportunity.id, data=data)
    return True


def _differs(current: Any, wanted: Any) -> bool:
    if isinstance(current, Decimal) or isinstance(wanted, Decimal):
        if current is None or wanted is None:
            return current is not wanted
        return Decimal(current) != Decimal(wanted)
    return bool(current != wanted)
