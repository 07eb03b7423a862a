"""Wire contracts of duplicate review."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from schemas.common import Strict
from schemas.signals import SignalRead


class SignalText(BaseModel):
    id: uuid.UUID
    title: str
    body: str
    kind: str
    observed_at: datetime


class CandidateOpportunity(BaseModel):
    """One duplicate candidate of a signal, with its texts to read side by side with the signal's."""

    opportunity_id: uuid.UUID
    title: str
    status: str
    signal_count: int
    score: float = Field(description="calibrated probability that the signal belongs to this opportunity")
    reasons: list[str]
    signals: list[SignalText] = Field(description="its most recent signals (up to 3), newest first")


class DuplicateReviewItem(BaseModel):
    signal: SignalRead
    candidates: list[CandidateOpportunity] = Field(description="open candidates, best first")


class AcceptDuplicate(Strict):
    opportunity_id: uuid.UUID = Field(description="the candidate the signal duplicates: its opportunity joins it")


class RejectDuplicate(Strict):
    opportunity_id: uuid.UUID | None = Field(
        default=None, description="the candidate that is a different need; omitted: every open candidate"
    )
