"""The clustering decision: re-post, join an open opportunity, or start a new one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from rapidfuzz import fuzz

from app.clustering.model import ClusterDecision, ClusterSettings, OpportunityCandidate, SignalText
from app.clustering.similarity import (
    SignalFeatures,
    account_discounts,
    centroid_linkage,
    features,
    ignore_words,
    pair_similarity,
)

DEFAULT_SETTINGS = ClusterSettings()


def _fold_ref(ref: str) -> str:
    return ref.strip().casefold()


def _named_candidate(new: SignalText, candidates: Sequence[OpportunityCandidate]) -> OpportunityCandidate | None:
    if not new.opportunity_ref or not new.opportunity_ref.strip():
        return None
    ref = _fold_ref(new.opportunity_ref)
    for c in candidates:
        if _fold_ref(c.id) == ref or (c.crm_id is not None and _fold_ref(c.crm_id) == ref):
            return c
    return None


def _within_window(new: SignalText, candidate: OpportunityCandidate, settings: ClusterSettings) -> bool:
    window = timedelta(days=settings.window_days)
    return any(abs(new.observed_at - s.observed_at) <= window for s in candidate.signals)


def find_repost(
    new: SignalText,
    new_features: SignalFeatures,
    candidates: Iterable[OpportunityCandidate],
    settings: ClusterSettings,
    ignore: frozenset[str] = frozenset(),
) -> tuple[OpportunityCandidate, SignalText, float] | None:
    """The earlier signal that ``new`` re-posts: same contributor, near-identical text, a short time apart."""
    window = timedelta(hours=settings.repost_window_hours)
    who = new.contributor.strip().casefold()
    best: tuple[OpportunityCandidate, SignalText, float] | None = None
    for c in candidates:
        for s in c.signals:
            if s.id == new.id or s.contributor.strip().casefold() != who:
                continue
            if abs(new.observed_at - s.observed_at) > window:
                continue
            ratio = fuzz.ratio(new_features.text_key, features(s, ignore).text_key)
            if ratio >= settings.repost_min_ratio and (best is None or ratio > best[2]):
                best = (c, s, ratio)
    return best


def decide(
    new: SignalText,
    candidates: Sequence[OpportunityCandidate],
    settings: ClusterSettings = DEFAULT_SETTINGS,
    *,
    account_names: Sequence[str] = (),
) -> ClusterDecision:
    """Decide where ``new`` goes among the open ``candidates`` of its account.

    ``account_names`` (the account's name, legal name, aliases) are left out of the evidence, since nearly
    every signal about the account names it.
    """
    named = _named_candidate(new, candidates)
    if named is not None:
        return ClusterDecision(
            opportunity_id=named.id,
            repost_of=None,
            score=1.0,
            matched_signal_ids=(),
            scores={named.id: 1.0},
            reason=f"payload names opportunity {new.opportunity_ref}",
        )

    ignore = ignore_words(account_names)
    nf = features(new, ignore)
    repost = find_repost(new, nf, candidates, settings, ignore)
    if repost is not None:
        cand, earlier, ratio = repost
        return ClusterDecision(
            opportunity_id=cand.id,
            repost_of=earlier.id,
            score=ratio / 100.0,
            matched_signal_ids=(earlier.id,),
            scores={cand.id: ratio / 100.0},
            reason=f"re-post of {earlier.id} by the same contributor (text similarity {ratio:.0f}/100)",
        )

    eligible = [c for c in candidates if c.signals and _within_window(new, c, settings)]
    member_features = {c.id: [features(s, ignore) for s in c.signals] for c in eligible}
    discounts: dict[str, dict[str, float]] = {}
    if settings.contrast_within_account and len(eligible) > 1:
        discounts = account_discounts(
            {cid: frozenset(t for f in fs for t in f.vector) for cid, fs in member_features.items()}
        )
    scores: dict[str, float] = {}
    partial: set[str] = set()  # candidates the new signal resembles only in part: never joined
    for c in eligible:
        fs, disc = member_features[c.id], discounts.get(c.id)
        pair_sims = [pair_similarity(nf, f, settings, disc) for f in fs]
        average = sum(pair_sims) / len(pair_sims)
        if settings.linkage == "centroid" and average >= settings.min_average_similarity:
            score = centroid_linkage(nf, fs, settings, disc)
        else:
            score = average
        scores[c.id] = round(score, 4)
        if sum(p >= settings.support_floor for p in pair_sims) < settings.min_support * len(pair_sims):
            partial.add(c.id)

    if not scores:
        return ClusterDecision(None, None, 0.0, (), {}, "no open opportunity of this account within the window")

    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    best_id, best = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if best >= settings.join_threshold and best_id in partial:
        return ClusterDecision(
            None,
            None,
            best,
            (),
            scores,
            f"{best_id} scores {best:.2f} but the signal shares evidence with too few of its signals "
            "(it resembles a part of that opportunity, not the whole)",
        )
    if best < settings.join_threshold:
        return ClusterDecision(
            None,
            None,
            best,
            (),
            scores,
            f"best match {best_id} scores {best:.2f}, below the join threshold {settings.join_threshold:.2f}",
        )
    if best - runner_up < settings.margin:
        return ClusterDecision(
            None,
            None,
            best,
            (),
            scores,
            f"ambiguous: {best_id} scores {best:.2f} and the runner-up {runner_up:.2f}",
        )
    cand = next(c for c in candidates if c.id == best_id)
    matched = tuple(
        s.id
        for s, f in zip(cand.signals, member_features[best_id], strict=True)
        if pair_similarity(nf, f, settings, discounts.get(best_id)) >= settings.join_threshold
    )
    return ClusterDecision(
        best_id,
        None,
        best,
        matched,
        scores,
        f"matches {best_id} as a whole (average similarity {best:.2f}, runner-up {runner_up:.2f})",
    )
