"""Notification events: written to an outbox in the caller's transaction, fanned out to subscriptions there too.

Delivery is at least once (see ``app.notifications.delivery``); receivers deduplicate on the event id.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.ids import uuid7
from app.notifications.models import NotificationDelivery, NotificationEvent, Subscription
from app.reports.milestones import record_milestone
from app.timeutil import utcnow

KINDS = (
    "signal.attributed",
    "signal.merged",
    "opportunity.synced",
    "opportunity.stage_changed",
    "opportunity.closed",
)


class UnknownEventKind(ValueError):
    pass


def emit(
    session: Session,
    kind: str,
    *,
    opportunity_id: uuid.UUID | None = None,
    signal_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Record an event and one delivery per matching active subscription, in the caller's transaction.

    ``data`` should carry ids and states, not free text or personal data: it is sent to third-party tools.
    """
    if kind not in KINDS:
        raise UnknownEventKind(kind)
    now = utcnow()
    event = NotificationEvent(
        id=uuid7(),
        kind=kind,
        opportunity_id=opportunity_id,
        signal_id=signal_id,
        data=dict(data or {}),
        created_at=now,
    )
    session.add(event)
    subscriptions = session.exec(
        select(Subscription.id, Subscription.event_kinds).where(col(Subscription.active).is_(True))
    ).all()
    targets = [sid for sid, kinds in subscriptions if not kinds or kind in kinds]
    session.flush()
    if targets:
        session.execute(
            sa.insert(NotificationDelivery.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": uuid7(),
                    "event_id": event.id,
                    "subscription_id": sid,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for sid in targets
            ],
        )
    if kind == "opportunity.synced" and opportunity_id is not None:
        _first_synced(session, opportunity_id)


def _first_synced(session: Session, opportunity_id: uuid.UUID) -> None:
    # Reports measure time to the CRM from the first sync; opportunities.synced_at moves on every sync.
    record_milestone(session, opportunity_id, first_synced_at=utcnow())


def envelope(event: NotificationEvent) -> dict[str, Any]:
    """The JSON body sent to receivers."""
    return {
        "id": str(event.id),
        "type": event.kind,
        "created_at": event.created_at.isoformat(),
        "opportunity_id": str(event.opportunity_id) if event.opportunity_id else None,
        "signal_id": str(event.signal_id) if event.signal_id else None,
        "data": event.data,
    }
