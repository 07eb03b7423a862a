"""Wire contracts of /v1/subscriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, Field

from schemas.common import Str200, Strict

EventKind = Literal[
    "signal.attributed",
    "signal.merged",
    "opportunity.synced",
    "opportunity.stage_changed",
    "opportunity.closed",
    "opportunity.overdue",
]


class SubscriptionCreate(Strict):
    url: Annotated[AnyHttpUrl, Field(max_length=2000, description="receives POSTs of signed JSON events")]
    description: Str200 | None = None
    events: list[EventKind] = Field(default_factory=list, max_length=6, description="empty: every kind")


class SubscriptionRead(BaseModel):
    id: uuid.UUID
    url: str
    description: str | None
    events: list[str]
    active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(
        description="HMAC-SHA256 key for X-Signal-Pipeline-Signature (t=<unix>,v1=<hex of HMAC of '<t>.<body>'>); "
        "shown only this once"
    )


class DeliveryRead(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    state: Literal["pending", "retrying", "delivered", "dead"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
