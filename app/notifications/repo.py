"""Queries of the notifications slice."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from app.notifications.models import NotificationDelivery, NotificationEvent, Subscription


class SubscriptionRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, subscription_id: uuid.UUID) -> Subscription | None:
        """An active subscription; a deleted one is kept (its delivery log stays) but no longer found."""
        sub = self.session.get(Subscription, subscription_id)
        return sub if sub is not None and sub.active else None

    def page(self, *, before: uuid.UUID | None, limit: int) -> list[Subscription]:
        stmt = select(Subscription).where(col(Subscription.active))
        if before:
            stmt = stmt.where(col(Subscription.id) < before)
        return list(self.session.exec(stmt.order_by(col(Subscription.id).desc()).limit(limit)))

    def deliveries(
        self, subscription_id: uuid.UUID, *, state: str | None, before: uuid.UUID | None, limit: int
    ) -> list[tuple[NotificationDelivery, str]]:
        stmt = (
            select(NotificationDelivery, NotificationEvent.kind)
            .join(NotificationEvent, col(NotificationEvent.id) == col(NotificationDelivery.event_id))
            .where(NotificationDelivery.subscription_id == subscription_id)
        )
        if state:
            stmt = stmt.where(NotificationDelivery.state == state)
        if before:
            stmt = stmt.where(col(NotificationDelivery.id) < before)
        rows = self.session.exec(stmt.order_by(col(NotificationDelivery.id).desc()).limit(limit))
        return [(d, k) for d, k in rows]
