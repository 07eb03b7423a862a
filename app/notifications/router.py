"""Outbound notification subscriptions under /v1/subscriptions (scope admin).

A subscription is a callback URL; events are POSTed to it as JSON, signed with the subscription's secret in
``X-Signal-Pipeline-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``, with the event id in
``X-Signal-Pipeline-Event-Id`` for deduplication. Delivery is at least once, retried with exponential backoff.
"""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Response

from app.core.api import PageDep, SessionDep, SettingsDep, problems, split_page
from app.core.auth import AdminKey
from app.notifications import service
from app.notifications.models import NotificationEvent
from app.notifications.repo import SubscriptionRepo
from schemas.common import Page
from schemas.notifications import DeliveryRead, SubscriptionCreate, SubscriptionCreated, SubscriptionRead

router = APIRouter(prefix="/v1/subscriptions", tags=["notifications"])


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionCreated,
    responses=problems(401, 403, 422),
    summary="Register a callback URL for signed events; the secret is shown only in this answer",
)
def create_subscription(
    data: SubscriptionCreate, session: SessionDep, settings: SettingsDep, key: AdminKey
) -> SubscriptionCreated:
    sub = service.create(session, data, settings.webhook_policy)
    read = service.to_read(sub)
    return SubscriptionCreated(**read.model_dump(), secret=sub.secret)


@router.get("", response_model=Page[SubscriptionRead], responses=problems(401, 403, 422))
def list_subscriptions(
    session: SessionDep,
    key: AdminKey,
    paging: PageDep,
) -> Page[SubscriptionRead]:
    rows = SubscriptionRepo(session).page(before=paging.before, limit=paging.fetch)
    page, next_cursor = split_page(rows, paging, lambda s: s.id)
    return Page(items=[service.to_read(s) for s in page], next_cursor=next_cursor)


@router.get("/{subscription_id}", response_model=SubscriptionRead, responses=problems(401, 403, 404))
def get_subscription(subscription_id: uuid.UUID, session: SessionDep, key: AdminKey) -> SubscriptionRead:
    return service.to_read(service.get(session, subscription_id))


@router.delete("/{subscription_id}", status_code=204, responses=problems(401, 403, 404), summary="Stop sending events")
def delete_subscription(subscription_id: uuid.UUID, session: SessionDep, key: AdminKey) -> Response:
    service.disable(session, subscription_id)
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=Page[DeliveryRead],
    responses=problems(401, 403, 404, 422),
    summary="The delivery log: each event owed to this subscription, its state, attempts and last error",
)
def list_deliveries(
    subscription_id: uuid.UUID,
    session: SessionDep,
    key: AdminKey,
    paging: PageDep,
    state: Literal["pending", "retrying", "delivered", "dead"] | None = None,
) -> Page[DeliveryRead]:
    service.get(session, subscription_id)
    rows = SubscriptionRepo(session).deliveries(subscription_id, state=state, before=paging.before, limit=paging.fetch)
    page, next_cursor = split_page(rows, paging, lambda row: row[0].id)
    return Page(items=[service.delivery_read(d, k) for d, k in page], next_cursor=next_cursor)


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/retry",
    response_model=DeliveryRead,
    responses=problems(401, 403, 404),
    summary="Send one delivery again now",
)
def retry_delivery(
    subscription_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep, key: AdminKey
) -> DeliveryRead:
    row = service.retry(session, subscription_id, delivery_id)
    event = session.get(NotificationEvent, row.event_id)
    return service.delivery_read(row, event.kind if event else "")
