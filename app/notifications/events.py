"""Notification events: written to an outbox in the caller's transaction, fanned out to subscriptions there too.

Delivery is at least once (see ``app.notifications.delivery``); receivers deduplicate on the event id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from app.core import versions
from app.core.ids import uuid7
from app.core.timeutil import utcnow
from app.notifications.models import NotificationDelivery, NotificationEvent, Subscription

KINDS = (
    "signal.attributed",
    "signal.merged",
    "opportunity.synced",
    "opportunity.stage_changed",
    "opportunity.closed",
    "opportunity.overdue",
)


class UnknownEventKind(ValueError):
    pass


@dataclass(frozen=True)
class Event:
    kind: str
    opportunity_id: uuid.UUID | None = None
    signal_id: uuid.UUID | None = None
    data: dict[str, Any] = field(default_factory=dict)


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
    emit_many(session, [Event(kind, opportunity_id, signal_id, dict(data or {}))])


# Built once, like the ingest statements (app/signals/matching.py says why). Core columns, not the model's
# attributes: a plain statement skips the ORM's per-execution set-up.
_SUBSCRIPTIONS = Subscription.__table__  # type: ignore[attr-defined]
_ACTIVE = sa.select(_SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.event_kinds).where(_SUBSCRIPTIONS.c.active.is_(True))


# Bumped by every change to which subscriptions are active or what they receive (app.notifications.service).
COUNTER = "subscriptions"
Active = list[tuple[uuid.UUID, list[str]]]  # (subscription id, the event kinds it receives; [] = all)


def active(session: Session) -> Active:
    return [(sid, list(kinds or [])) for sid, kinds in session.execute(_ACTIVE).all()]


def cached() -> versions.Versioned[Active]:
    """A per-process copy of the active subscriptions, for ingest: every signal emits events, and a copy checked
    against the shared counter (read once per transaction anyway) saves a query per signal."""
    return versions.Versioned(COUNTER, active)


def emit_many(
    session: Session,
    events: Sequence[Event],
    *,
    follow_ups: bool = True,
    subscriptions: versions.Versioned[Active] | None = None,
) -> None:
    """``emit`` for many events with a fixed number of statements: two inserts, and one subscription read unless
    the caller passes its per-process copy (``subscriptions``, from ``cached``).

    With no active subscription nobody would receive them, so no rows are written. ``follow_ups=False`` when
    no event can concern a captured signal (intake: a signal's capture origin is stored after it), which
    saves the origin lookup.
    """
    unknown = {e.kind for e in events} - set(KINDS)
    if unknown:
        raise UnknownEventKind(", ".join(sorted(unknown)))
    if follow_ups:
        # Capture sources tell contributors in their own tool (a DM, a comment); imported here, not at the top,
        # because capture builds on the ingest that imports this module.
        from app.capture.service import enqueue_follow_ups

        enqueue_follow_ups(session, events)
    receivers = subscriptions.get(session) if subscriptions is not None else active(session)
    if not events or not receivers:
        return
    now = utcnow()
    rows = [
        {
            "id": uuid7(),
            "kind": e.kind,
            "opportunity_id": e.opportunity_id,
            "signal_id": e.signal_id,
            "data": e.data,
            "created_at": now,
        }
        for e in events
    ]
    session.execute(sa.insert(NotificationEvent.__table__), rows)  # type: ignore[attr-defined]
    deliveries = [
        {
            "id": uuid7(),
            "event_id": row["id"],
            "subscription_id": sid,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for row in rows
        for sid, kinds in receivers
        if not kinds or row["kind"] in kinds
    ]
    if deliveries:
        session.execute(sa.insert(NotificationDelivery.__table__), deliveries)  # type: ignore[attr-defined]


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
