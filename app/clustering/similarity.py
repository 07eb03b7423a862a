"""Pairwise similarity of two signals and average-linkage similarity of a signal to an opportunity."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from app.clustering.lexicon import PLACE_CONCEPTS
from app.clustering.model import ClusterSettings, SignalText
from app.clustering.text import comparable_text, fold, normalise, strip_accents, terms_of, tokenize

# Kinds that report something going wrong with what the customer already buys from us, versus kinds that
# report a chance to sell more. A risk and an opening are different opportunities even in the same words.
RISK_KINDS = frozenset({"renewal_risk"})
OPENING_KINDS = frozenset({"changed_need", "new_use_case", "inefficiency", "expansion", "referral"})

# The sales motion a kind belongs to. Growing what the customer already has (more users, sites, markets) is a
# different deal from a new project the customer needs (a pain, a use case, a changed need), and both differ
# from keeping what is at risk; a signal of one motion seldom continues an opportunity of another.
MOTIONS: dict[str, str] = {
    "renewal_risk": "retain",
    "expansion": "grow",
    "new_use_case": "new",
    "inefficiency": "new",
    "changed_need": "new",
}

_PLACE_TERMS = frozenset("c:" + p for p in PLACE_CONCEPTS)


def polarity(kind: str) -> int:
    """-1 for a risk, +1 for an opening, 0 when the kind says neither (``other`` or unknown)."""
    if kind in RISK_KINDS:
        return -1
    if kind in OPENING_KINDS:
        return 1
    return 0


def _other_motion(a: str, b: str) -> bool:
    """Both kinds belong to a known sales motion, and not the same one."""
    ma, mb = MOTIONS.get(a), MOTIONS.get(b)
    return ma is not None and mb is not None and ma != mb


@dataclass(frozen=True)
class SignalFeatures:
    """Precomputed evidence of one signal; cheap to compare."""

    vector: dict[str, float]  # unit-length weighted terms
    text_key: str  # normalised title+body for re-post detection
    polarity: int
    kind: str
    places: frozenset[str]  # countries/markets named


def ignore_words(account_names: Iterable[str]) -> frozenset[str]:
    """Folded words of the account's names: they are in most of its signals and say nothing."""
    words: set[str] = set()
    for name in account_names:
        for tok in tokenize(name):
            for w in {tok.text, strip_accents(tok.text)}:
                words.add(w)
                if w.endswith("s") and len(w) > 3:
                    words.add(w[:-1])
                words.add(w + "s")
    return frozenset(words)


@lru_cache(maxsize=8192)
def features(signal: SignalText, ignore: frozenset[str] = frozenset()) -> SignalFeatures:
    """Evidence of ``signal``; cached, so re-scoring an opportunity's signals costs a dict lookup."""
    vector = normalise(terms_of(signal.title, signal.body, ignore=ignore))
    return SignalFeatures(
        vector=vector,
        text_key=comparable_text(signal.title, signal.body),
        polarity=polarity(fold(signal.kind)),
        kind=fold(signal.kind),
        places=frozenset(t for t in vector if t in _PLACE_TERMS),
    )


def pair_similarity(
    a: SignalFeatures,
    b: SignalFeatures,
    settings: ClusterSettings,
    discount: Mapping[str, float] | None = None,
) -> float:
    """Similarity of two signals in [0, 1]: weighted-term cosine, adjusted by kinds and places.

    ``discount`` scales down terms that also describe other opportunities of the same account.
    """
    x, y = (a.vector, b.vector) if len(a.vector) <= len(b.vector) else (b.vector, a.vector)
    if discount:
        sim = sum(v * y[k] * discount.get(k, 1.0) for k, v in x.items() if k in y)
    else:
        sim = sum(v * y[k] for k, v in x.items() if k in y)
    factor, bonus = _kind_place_adjustment(a, b, settings)
    return min(sim * factor + bonus, 1.0)


def _kind_place_adjustment(a: SignalFeatures, b: SignalFeatures, settings: ClusterSettings) -> tuple[float, float]:
    """The multiplier and the bonus that the two signals' kinds and places put on their text similarity.

    A conflict (risk vs opening, different sales motions, different countries) earns no same-kind bonus, so
    with the penalties below the join threshold even word-for-word the same text stays apart.
    """
    factor = 1.0
    if a.polarity * b.polarity < 0:
        factor *= settings.direction_penalty
    elif a.kind != b.kind and _other_motion(a.kind, b.kind):
        factor *= settings.motion_penalty
    if a.places and b.places and not (a.places & b.places):
        factor *= settings.geography_penalty
    bonus = settings.same_kind_bonus if a.kind == b.kind and factor == 1.0 else 0.0
    return factor, bonus


def linkage(
    new: SignalFeatures,
    members: Iterable[SignalFeatures],
    settings: ClusterSettings,
    discount: Mapping[str, float] | None = None,
) -> float:
    """Average linkage: the mean similarity of ``new`` to every member, so one look-alike cannot chain."""
    sims = [pair_similarity(new, m, settings, discount) for m in members]
    return sum(sims) / len(sims) if sims else 0.0


def centroid_linkage(
    new: SignalFeatures,
    members: Sequence[SignalFeatures],
    settings: ClusterSettings,
    discount: Mapping[str, float] | None = None,
) -> float:
    """Similarity of ``new`` to the opportunity's centroid (the normalised sum of its members' vectors),
    times the members' mean kind/place adjustment. Like average linkage it scores the whole opportunity."""
    if not members:
        return 0.0
    centroid: dict[str, float] = {}
    for m in members:
        for k, v in m.vector.items():
            centroid[k] = centroid.get(k, 0.0) + v
    centroid = normalise(centroid)
    d = discount or {}
    sim = sum(v * centroid[k] * d.get(k, 1.0) for k, v in new.vector.items() if k in centroid)
    factor = 0.0
    bonus = 0.0
    for m in members:
        f, b = _kind_place_adjustment(new, m, settings)
        factor += f
        bonus += b
    return min(1.0, sim * factor / len(members) + bonus / len(members))


def account_discounts(candidate_terms: Mapping[str, frozenset[str]]) -> dict[str, dict[str, float]]:
    """Per candidate, a discount for each term by how many *other* candidates also use it.

    Terms every opportunity of the account shares (its products, its sites) tell them apart poorly; a term
    in k other candidates counts 1/(1+k).
    """
    counts: dict[str, int] = {}
    for terms in candidate_terms.values():
        for t in terms:
            counts[t] = counts.get(t, 0) + 1
    out: dict[str, dict[str, float]] = {}
    for cid, terms in candidate_terms.items():
        out[cid] = {t: 1.0 / counts[t] for t in terms if counts[t] > 1}
    return out
