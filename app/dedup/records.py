"""The value types of deduplication: what it reads and what it decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SignalText:
    """The parts of a signal that deduplication looks at."""

    id: str
    contributor: str  # e-mail
    kind: str
    title: str
    body: str
    observed_at: datetime
    source_system: str | None = None
    source_reference: str | None = None


@dataclass(frozen=True)
class OpportunityCandidate:
    """An open opportunity of the signal's account, with (the most recent of) its signals."""

    id: str
    crm_id: str | None
    signals: tuple[SignalText, ...]


@dataclass(frozen=True)
class Suggestion:
    """A candidate opportunity the signal may duplicate: its calibrated probability and why."""

    opportunity_id: str
    score: float
    reasons: tuple[str, ...]
    features: tuple[float, ...] = ()  # the model's inputs, stored so a person's decision can calibrate it


# Outcomes of a decision.
REPOST = "repost"  # the same person re-posted a signal: store nothing
MERGED = "merged"  # probability at or above the merge threshold: joins the opportunity
SUGGESTED = "suggested"  # a new opportunity, with duplicate candidates for a person to decide
NEW = "new"  # a new opportunity, nothing alike


@dataclass(frozen=True)
class Decision:
    """Where a new signal goes. ``opportunity_id`` None: a new opportunity. ``repost_of`` set: store nothing."""

    outcome: str
    opportunity_id: str | None
    score: float
    reason: str
    repost_of: str | None = None
    matched_signal_ids: tuple[str, ...] = ()
    candidates: tuple[Suggestion, ...] = ()  # the duplicate candidates, best first (outcome SUGGESTED)
    scores: dict[str, float] = field(default_factory=dict)  # every scored candidate's probability
    features: tuple[float, ...] = ()  # the model's inputs for the joined opportunity (outcome MERGED)
