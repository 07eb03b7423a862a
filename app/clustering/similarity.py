"""Pairwise similarity of two signals and average-linkage similarity of a signal to an opportunity."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from app.clustering.model import ClusterSettings, SignalText
from app.clustering.text import comparable_text, cosine, fold, normalise, terms_of, tokenize

# Kinds that report something going wrong with what the customer already buys from us, versus kinds that
# report a chance to sell more. A risk and an opening are different opportunities even in the same words.
RISK_KINDS = frozenset({"renewal_risk"})
OPENING_KINDS = frozenset({"changed_need", "new_use_case", "inefficiency", "expansion", "referral"})


def polarity(kind: str) -> int:
    """-1 for a risk, +1 for an opening, 0 when the kind says neither (``other`` or unknown)."""
    if kind in RISK_KINDS:
        return -1
    if kind in OPENING_KINDS:
        return 1
    return 0


@dataclass(frozen=True)
class SignalFeatures:
    """Precomputed evidence of one signal; cheap to compare."""

    vector: dict[str, float]  # unit-length weighted terms
    text_key: str  # normalised title+body for re-post detection
    polarity: int
    kind: str


def ignore_words(account_names: Iterable[str]) -> frozenset[str]:
    """Folded words of the account's names: they are in most of its signals and say nothing."""
    words: set[str] = set()
    for name in account_names:
        for tok in tokenize(name):
            words.add(tok.text)
            if tok.text.endswith("s") and len(tok.text) > 3:
                words.add(tok.text[:-1])
            words.add(tok.text + "s")
    return frozenset(words)


@lru_cache(maxsize=8192)
def features(signal: SignalText, ignore: frozenset[str] = frozenset()) -> SignalFeatures:
    """Evidence of ``signal``; cached, so re-scoring an opportunity's signals costs a dict lookup."""
    return SignalFeatures(
        vector=normalise(terms_of(signal.title, signal.body, ignore=ignore)),
        text_key=comparable_text(signal.title, signal.body),
        polarity=polarity(fold(signal.kind)),
        kind=fold(signal.kind),
    )


def pair_similarity(a: SignalFeatures, b: SignalFeatures, settings: ClusterSettings) -> float:
    """Similarity of two signals in [0, 1]: weighted-term cosine, adjusted by their kinds."""
    sim = cosine(a.vector, b.vector)
    if a.polarity * b.polarity < 0:
        sim *= settings.direction_penalty
    elif a.kind == b.kind:
        sim += settings.same_kind_bonus
    return min(sim, 1.0)


def linkage(new: SignalFeatures, members: Iterable[SignalFeatures], settings: ClusterSettings) -> float:
    """Average linkage: the mean similarity of ``new`` to every member, so one look-alike cannot chain."""
    sims = [pair_similarity(new, m, settings) for m in members]
    return sum(sims) / len(sims) if sims else 0.0
