"""Deduplication and clustering of signals into opportunities: pure functions, no database.

``decide(new, candidates)`` says whether a new signal re-posts an earlier one, joins one of its account's
open opportunities, or starts a new one, and why.
"""

from app.clustering.decide import decide, find_repost
from app.clustering.model import ClusterDecision, ClusterSettings, OpportunityCandidate, SignalText
from app.clustering.similarity import SignalFeatures, features, pair_similarity

__all__ = [
    "ClusterDecision",
    "ClusterSettings",
    "OpportunityCandidate",
    "SignalFeatures",
    "SignalText",
    "decide",
    "features",
    "find_repost",
    "pair_similarity",
]
