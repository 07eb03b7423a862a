"""Wire contracts of the contributor feed."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field


class Colleague(BaseModel):
    id: uuid.UUID
    name: str | None = Field(description="null once that person's data is erased")
    function: str
    team: str | None
    role: str = Field(description="originator or co_contributor")


class FeedAccount(BaseModel):
    id: uuid.UUID
    name: str


class FeedOpportunity(BaseModel):
    id: uuid.UUID
    title: str
    status: str = Field(description="open, won, lost or not_pursued")
    stage: str | None
    amount: Decimal | None
    currency: str | None
    close_date: date | None
    note: str | None = Field(description="the seller's note")
    crm_id: str | None
    crm_url: str | None
    stage_changed_at: datetime | None
    closed_at: datetime | None
    signal_count: int
    my_role: str | None = Field(description="this contributor's credit: originator or co_contributor")


class FeedItem(BaseModel):
    signal_id: uuid.UUID
    kind: str
    title: str
    status: str = Field(description="attributed, or needs_review while a human decides the account")
    observed_at: datetime
    source: dict[str, Any]
    account: FeedAccount | None
    opportunity: FeedOpportunity | None
    colleagues: list[Colleague] = Field(description="the others whose signals were merged into the same opportunity")
