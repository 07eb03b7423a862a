"""The value types of the clustering engine: what it reads and what it decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SignalText:
    """The parts of a signal that clustering looks at."""

    id: str
    contributor: str  # e-mail
    kind: str
    title: str
    body: str
    observed_at: datetime
    source_system: str | None = None
    source_reference: str | None = None
    opportunity_ref: str | None = None  # an opportunity id or CRM deal id named by the payload


@dataclass(frozen=True)
class OpportunityCandidate:
    """An open opportunity of the signal's account, with its signals."""

    id: str
    crm_id: str | None
    signals: tuple[SignalText, ...]


@dataclass(frozen=True)
class ClusterDecision:
    """Where a new signal goes. ``opportunity_id`` None means: start a new opportunity.

    ``repost_of`` set means the signal re-posts that signal: store no new signal and give no new credit.
    """

    opportunity_id: str | None
    repost_of: str | None
    score: float
    matched_signal_ids: tuple[str, ...]
    scores: dict[str, float] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class ClusterSettings:
    """Tunables. Scores are average-linkage similarities in [0, 1]."""

    window_days: int = 60
    repost_window_hours: int = 72
    repost_min_ratio: float = 90.0  # rapidfuzz ratio (0..100) of the normalised title+body
    join_threshold: float = 0.12
    margin: float = 0.04  # the best candidate must beat the runner-up by this much
    direction_penalty: float = 0.1  # multiplier when one signal is a risk and the other an opportunity
    same_kind_bonus: float = 0.03
    # multiplier when the two kinds belong to different sales motions (growing what the customer has vs a new
    # project); risk vs opening is the stronger direction_penalty
    motion_penalty: float = 0.5
    geography_penalty: float = 0.1  # multiplier when both name countries/markets and share none
    linkage: str = "centroid"  # "centroid" or "average" (mean pairwise similarity)
    # with centroid linkage, also require this mean pairwise similarity, so that one member the new signal
    # resembles closely cannot carry it into an opportunity it does not otherwise resemble
    min_average_similarity: float = 0.08
    # share of the opportunity's signals the new one must share some evidence with (similarity >= floor)
    min_support: float = 0.6
    support_floor: float = 0.03
    contrast_within_account: bool = True  # discount terms shared by several open opportunities
