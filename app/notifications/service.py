"""Subscription rules. Never commits."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from app.core import versions
from app.core.errors import NotFound, invalid
from app.core.timeutil import utcnow
from app.notifications import events, signing
from app.notifications.models import NotificationDelivery, Subscription
from app.notifications.repo import SubscriptionRepo
from integrations import outbound
from integrations.outbound import OutboundPolicy
from schemas.notifications import DeliveryRead, SubscriptionCreate, SubscriptionRead


def create(session: Session, data: SubscriptionCreate, policy: OutboundPolicy) -> Subscription:
    """Store a subscription whose URL passes the outbound guard (checked again before every delivery)."""
    url = str(data.url)
    try:
        outbound.check(url, policy)
    except outbound.RefusedURL as exc:
        raise invalid("url", exc.reason, exc.code) from None
    sub = Subscription(
        url=url,
        description=data.description,
        event_kinds=sorted(set(data.events)),
        secret=signing.new_secret(),
    )
    session.add(sub)
    session.flush()
    versions.bump(session, events.COUNTER)  # processes' copies of the active subscriptions reload
    return sub


def get(session: Session, subscription_id: uuid.UUID) -> Subscription:
    sub = SubscriptionRepo(session).get(subscription_id)
    if sub is None:
        raise NotFound("no such subscription")
    return sub


def disable(session: Session, subscription_id: uuid.UUID) -> None:
    """Stop sending: pending deliveries are dropped by the worker, the log stays; the subscription is then 404."""
    sub = get(session, subscription_id)
    sub.active, sub.disabled_at = False, utcnow()
    session.add(sub)
    versions.bump(session, events.COUNTER)


def retry(session: Session, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> NotificationDelivery:
    """Make one delivery due now (a dead one after the receiver is fixed, or a delivered one to resend)."""
    get(session, subscription_id)
    row = session.get(NotificationDelivery, delivery_id)
    if row is None or row.subscription_id != subscription_id:
        raise NotFound("no such delivery")
    row.state, row.next_attempt_at = "pending", utcnow()
    session.add(row)
    return row


def to_read(sub: Subscription) -> SubscriptionRead:
    return SubscriptionRead(
        id=sub.id,
        url=sub.url,
        description=sub.description,
        events=list(sub.event_kinds),
        active=sub.active,
        created_at=sub.created_at,
    )


def delivery_read(row: NotificationDelivery, kind: str) -> DeliveryRead:
    return DeliveryRead(
        id=row.id,
        event_id=row.event_id,
        event_type=kind,
        state=row.state,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if row.state in ("pending", "retrying") else None,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
    )
