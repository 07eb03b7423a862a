"""Wire contracts of /v1/routing: rules that give each new opportunity an owner or queue and a response time."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field, field_validator, model_validator

from schemas.common import Str40, Str100, Str254, Strict
from schemas.currency import ISO_4217


class RoutingRuleIn(Strict):
    """A rule matches when every condition given holds (an empty list matches anything); rules are tried in
    ``position`` order (then creation order) and the first match applies."""

    name: Str100
    position: int = Field(default=100, ge=0, le=1_000_000, description="lower is tried first")
    kinds: list[Str40] = Field(default_factory=list, max_length=20, description="signal kinds of the opening signal")
    functions: list[Str40] = Field(default_factory=list, max_length=20, description="the reporter's functions")
    segments: list[Str100] = Field(default_factory=list, max_length=50, description="account segments")
    min_amount: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=2)
    max_amount: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=2)
    currency: str | None = Field(default=None, description="currency of min_amount and max_amount (ISO 4217)")
    owner: Str254 | None = Field(default=None, description="who must react (e-mail or name)")
    queue: Str100 | None = Field(default=None, description="or the queue that must react")
    sla_hours: int = Field(ge=1, le=8760, description="hours until an untriaged opportunity escalates")
    active: bool = True

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.upper()
        if code not in ISO_4217:
            raise ValueError("must be an ISO 4217 currency code such as SEK")
        return code

    @model_validator(mode="after")
    def _consistent(self) -> RoutingRuleIn:
        if self.owner is None and self.queue is None:
            raise ValueError("give an owner or a queue")
        if (self.min_amount is not None or self.max_amount is not None) and self.currency is None:
            raise ValueError("an amount condition needs its currency")
        if self.min_amount is not None and self.max_amount is not None and self.min_amount > self.max_amount:
            raise ValueError("min_amount must not exceed max_amount")
        return self


class RoutingRuleRead(BaseModel):
    id: uuid.UUID
    name: str
    position: int
    kinds: list[str]
    functions: list[str]
    segments: list[str]
    min_amount: Decimal | None
    max_amount: Decimal | None
    currency: str | None
    owner: str | None
    queue: str | None
    sla_hours: int
    active: bool
    created_at: datetime
    updated_at: datetime


class OpportunityRouteRead(BaseModel):
    """Who must react to an opportunity and by when, recorded when it was opened."""

    opportunity_id: uuid.UUID
    rule_id: uuid.UUID | None = Field(description="null once the rule was deleted; rule_name stays")
    rule_name: str
    owner: str | None
    queue: str | None
    sla_hours: int
    routed_at: datetime
    due_at: datetime
    reacted_at: datetime | None = Field(description="first reaction: stage change, outcome, or a person's correction")
    escalated_at: datetime | None
    overdue: bool
