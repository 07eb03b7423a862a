"""Wire contracts of /v1/mandates: what a contributor may do with what they noticed, per function and signal kind."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from schemas.common import Money, NoNul, Str40, Strict

# Ordered from least to most: each level includes the ones before it.
MandateLevel = Literal["report", "propose", "quote"]
ANY = "*"


class MandateRule(Strict):
    function: Str40 = Field(default=ANY, description="contributor function, or * for every function")
    kind: Str40 = Field(default=ANY, description="signal kind, or * for every kind")
    level: MandateLevel = Field(
        description="report: only report; propose: may propose it to the customer; quote: may also quote"
    )
    limit: Money | None = Field(
        default=None, description="propose or quote only up to this value; above it the account owner follows up"
    )
    note: Annotated[str, NoNul] | None = Field(
        default=None, max_length=500, description="shown to the contributor with the mandate"
    )


class MandatePolicy(Strict):
    """The whole policy; PUT replaces it. The most specific rule applies: function and kind, then function, then
    kind, then * and *. Without any rule a contributor may only report."""

    rules: list[MandateRule] = Field(max_length=500)


class MandatePolicyRead(BaseModel):
    rules: list[MandateRule]
    updated_at: datetime | None


class MandateRead(BaseModel):
    """The contributor's mandate for one signal they reported."""

    level: MandateLevel = Field(description="what they may do with this signal (after its value is held to the limit)")
    may_propose: bool
    may_quote: bool
    limit: Money | None
    within_limit: bool | None = Field(description="null when the signal has no value or the limit another currency")
    follow_up: Literal["contributor", "account_owner"] = Field(description="who takes it to the customer next")
    message: str
    note: str | None
    rule: dict[str, str] = Field(description="the policy rule that applied: function and kind ('*' = any)")
