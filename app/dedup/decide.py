"""The decision for one new signal: a re-post, a named opportunity, an auto-merge, a new opportunity with
duplicate candidates, or a new opportunity with nothing alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from app.dedup import records as r
from app.dedup.corpus import Corpus
from app.dedup.features import Scored, candidate_features
from app.dedup.model import DedupModel
from app.dedup.text import fold

MAX_SUGGESTIONS = 5
# Cost bounds, the same in training and in the service: a new signal is compared with at most this many of its
# account's most recently active open opportunities, each through at most this many of its latest signals.
MAX_CANDIDATES = 100
MAX_MEMBERS = 10
# A re-post: the same person, near-identical text (rapidfuzz ratio 0..100 of the folded text), within hours.
REPOST_WINDOW = timedelta(hours=72)
REPOST_MIN_RATIO = 90.0


def find_repost(
    new: r.SignalText, candidates: Sequence[r.OpportunityCandidate]
) -> tuple[r.OpportunityCandidate, r.SignalText, float] | None:
    """The earlier signal that ``new`` re-posts: same contributor, near-identical text, a short time apart."""
    who = new.contributor.strip().casefold()
    key = fold(f"{new.title} {new.body}")
    best: tuple[r.OpportunityCandidate, r.SignalText, float] | None = None
    for c in candidates:
        for s in c.signals:
            if s.id == new.id or s.contributor.strip().casefold() != who:
                continue
            if abs(new.observed_at - s.observed_at) > REPOST_WINDOW:
                continue
            ratio = fuzz.ratio(key, fold(f"{s.title} {s.body}"))
            if ratio >= REPOST_MIN_RATIO and (best is None or ratio > best[2]):
                best = (c, s, ratio)
    return best


def within_horizon(
    new: r.SignalText, candidates: Sequence[r.OpportunityCandidate], max_age_days: int
) -> list[r.OpportunityCandidate]:
    """Open opportunities with a signal in the last ``max_age_days`` before the new one (recency is otherwise a
    feature of the score, not a cut-off)."""
    oldest = new.observed_at - timedelta(days=max_age_days)
    latest = {c.id: max(s.observed_at for s in c.signals) for c in candidates if c.signals}
    alive = sorted((c for c in candidates if c.id in latest and latest[c.id] >= oldest), key=lambda c: latest[c.id])
    return [
        c if len(c.signals) <= MAX_MEMBERS else replace(c, signals=tuple(sorted(c.signals, key=_at)[-MAX_MEMBERS:]))
        for c in alive[-MAX_CANDIDATES:]
    ]


def _at(s: r.SignalText) -> datetime:
    return s.observed_at


def reasons(s: Scored) -> tuple[str, ...]:
    """Why a candidate scored as it did, in words a reviewer can check against the texts."""
    f = s.facts
    out = [
        f"wording {f['word_best']:.2f} like signal {s.best_member} (title {f['title_best']:.2f}, "
        f"spelling {f['char_best']:.2f})",
        f"rank {s.rank + 1} of {s.of} by wording among the account's open opportunities",
        f"{s.gap_days:.0f} days from its nearest signal",
    ]
    if f["same_contributor"]:
        out.append("the same contributor reported it")
    if f["same_kind"] >= 1.0:
        out.append("the same kind")
    return tuple(out)


def score_candidates(
    new: r.SignalText, candidates: Sequence[r.OpportunityCandidate], corpus: Corpus, model: DedupModel
) -> list[tuple[Scored, float]]:
    """Each candidate's features and calibrated probability, most probable first."""
    scored = [(s, model.probability(s.x)) for s in candidate_features(new, candidates, corpus)]
    scored.sort(key=lambda sp: -sp[1])
    return scored


def decide(
    new: r.SignalText,
    candidates: Sequence[r.OpportunityCandidate],
    corpus: Corpus,
    model: DedupModel,
    max_age_days: int,
) -> r.Decision:
    """Where ``new`` goes among its account's open ``candidates``."""
    repost = find_repost(new, candidates)
    if repost is not None:
        cand, earlier, ratio = repost
        return r.Decision(
            r.REPOST,
            cand.id,
            ratio / 100.0,
            f"re-post of {earlier.id} by the same contributor (text similarity {ratio:.0f}/100)",
            repost_of=earlier.id,
            matched_signal_ids=(earlier.id,),
        )
    open_ = within_horizon(new, candidates, max_age_days)
    scored = score_candidates(new, open_, corpus, model)
    if not scored:
        return r.Decision(r.NEW, None, 0.0, f"no open opportunity of this account active in {max_age_days} days")
    probs = {s.candidate.id: round(p, 4) for s, p in scored}
    best, p = scored[0]
    if p >= model.merge_threshold:
        return r.Decision(
            r.MERGED,
            best.candidate.id,
            p,
            f"duplicate of {best.candidate.id} with probability {p:.2f} (merge threshold {model.merge_threshold:.2f})",
            matched_signal_ids=(best.best_member,),
            scores=probs,
            features=best.x,
        )
    suggestions = tuple(
        r.Suggestion(s.candidate.id, round(q, 4), reasons(s), s.x)
        for s, q in scored[:MAX_SUGGESTIONS]
        if q >= model.suggest_floor
    )
    if suggestions:
        return r.Decision(
            r.SUGGESTED,
            None,
            p,
            f"{len(suggestions)} possible duplicate(s), best {best.candidate.id} at {p:.2f}: below the merge "
            f"threshold {model.merge_threshold:.2f}, left to a person",
            candidates=suggestions,
            scores=probs,
        )
    return r.Decision(
        r.NEW, None, p, f"best match {best.candidate.id} at {p:.2f}, below the suggestion floor", scores=probs
    )
