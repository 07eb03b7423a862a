"""Features of (new signal, candidate opportunity) pairs that carry over to any customer's vocabulary.

Every lexical feature is weighted by the deployment's own document frequencies (app.dedup.corpus), and every
candidate is also seen against the account's other candidates (its rank and its margin), so the same model
serves bug reports in English and customer needs in Swedish without a word list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from app.dedup.corpus import Corpus
from app.dedup.records import OpportunityCandidate, SignalText
from app.dedup.text import Terms, chars, cosine, terms, weighted

FEATURES = (
    "word_best",  # TF-IDF cosine (title and body) with the opportunity's best-matching signal
    "word_centroid",  # ... with the centroid of its signals
    "title_best",  # title with title, best signal
    "char_best",  # character n-gram TF-IDF cosine, best signal
    "char_centroid",
    "cover_new",  # share of the new signal's IDF mass its best match also has
    "cover_member",  # share of the best match's IDF mass the new signal also has
    "rarest_shared",  # IDF of the rarest shared word, relative to an unseen word's
    "shared_mass",  # IDF mass of the shared words, in unseen-word units (log)
    "word_rank",  # rank of this candidate among the account's candidates by word_best (0 = best), log
    "char_rank",
    "word_margin",  # word_best minus the best other candidate's
    "char_margin",
    "candidates",  # log(1 + candidates of the account)
    "members",  # log(1 + the opportunity's signals compared)
    "same_kind",  # share of its signals of the new signal's kind
    "same_contributor",  # one of its signals is by the same person
    "gap_days",  # log(1 + days to the nearest of its signals)
    "idle_days",  # log(1 + days since its latest signal)
    "same_source",  # share of its signals from the same source system
    "new_length",  # log(1 + words of the new signal)
    "member_length",  # log(1 + words of the best match)
    "corpus",  # log(1 + signals in the corpus)
)

# Character n-grams are compared with the best candidates by words only: they refine the ranking of the few
# that matter, at a bounded cost however many opportunities an account has open.
CHAR_CANDIDATES = 12


@dataclass(frozen=True, slots=True)  # slots: one GC-tracked object per cached entry (see app.dedup.text.Counts)
class Vectors:
    words: dict[str, float]
    title: dict[str, float]
    terms: Terms
    mass: float  # IDF mass of its words (at least 1: no division by zero)


@lru_cache(maxsize=16384)
def _vectors(corpus: Corpus, epoch: int, title: str, body: str) -> Vectors:
    t = terms(title, body)
    idf, unseen = corpus.idf, corpus.unseen_idf
    mass = sum(idf.get(w, unseen) for w in t.words) or 1.0
    return Vectors(weighted(t.words, idf, unseen), weighted(t.title, idf, unseen), t, mass)


@lru_cache(maxsize=4096)
def _char_vector(corpus: Corpus, epoch: int, title: str, body: str) -> dict[str, float]:
    return weighted(chars(title, body), corpus.idf, corpus.unseen_idf, "#")


def vectors(corpus: Corpus, s: SignalText) -> Vectors:
    return _vectors(corpus, corpus.epoch, s.title, s.body)


def char_vector(corpus: Corpus, s: SignalText) -> dict[str, float]:
    return _char_vector(corpus, corpus.epoch, s.title, s.body)


# |sum of an opportunity's unit vectors|, by (corpus, weights epoch, vector kind, its signals' ids): it changes
# only when a signal joins, and with it the centroid cosine is the mean of the cosines already computed.
_SUM_NORMS: dict[tuple[int, int, str, tuple[str, ...]], float] = {}
_SUM_NORMS_MAX = 50_000


def _sum_norm(corpus: Corpus, kind: str, ids: tuple[str, ...], vs: Sequence[dict[str, float]]) -> float:
    key = (id(corpus), corpus.epoch, kind, ids)
    found = _SUM_NORMS.get(key)
    if found is None:
        squared = sum(cosine(a, a) for a in vs) + 2 * sum(
            cosine(vs[i], vs[j]) for i in range(len(vs)) for j in range(i + 1, len(vs))
        )
        found = math.sqrt(max(squared, 0.0))
        if len(_SUM_NORMS) >= _SUM_NORMS_MAX:
            _SUM_NORMS.clear()
        _SUM_NORMS[key] = found
    return found


def _centroid_cosine(
    corpus: Corpus, kind: str, ids: tuple[str, ...], vs: Sequence[dict[str, float]], sims: Sequence[float]
) -> float:
    """Cosine of the new signal with the normalised sum of ``vs``, given its cosines ``sims`` with each."""
    norm = _sum_norm(corpus, kind, ids, vs)
    return sum(sims) / norm if norm else 0.0


def _days(a: SignalText, b: SignalText) -> float:
    return abs((a.observed_at - b.observed_at).total_seconds()) / 86400.0


@dataclass(frozen=True)
class Scored:
    """The features of one candidate and what explains them."""

    candidate: OpportunityCandidate
    x: tuple[float, ...]
    best_member: str  # id of the candidate's signal most like the new one
    facts: dict[str, float]
    rank: int  # by wording among the account's candidates, 0 = best
    of: int
    gap_days: float


def candidate_features(new: SignalText, candidates: Sequence[OpportunityCandidate], corpus: Corpus) -> list[Scored]:
    """FEATURES of ``new`` against each candidate (candidates without signals are skipped)."""
    cands = [c for c in candidates if c.signals]
    if not cands:
        return []
    nv = vectors(corpus, new)
    nc = char_vector(corpus, new)
    idf, unseen = corpus.idf, corpus.unseen_idf
    new_words = nv.terms.words
    new_mass = nv.mass
    rows = []
    for c in cands:
        mvs = [vectors(corpus, s) for s in c.signals]
        sims = [cosine(nv.words, m.words) for m in mvs]
        best = max(range(len(sims)), key=sims.__getitem__)
        rows.append((c, mvs, sims, best))
    word_scores = [r[2][r[3]] for r in rows]
    order = sorted(range(len(rows)), key=lambda i: -word_scores[i])
    word_rank = {i: k for k, i in enumerate(order)}
    char_scores: dict[int, float] = {}
    char_centroids: dict[int, float] = {}
    for i in order[:CHAR_CANDIDATES]:
        cvs = [char_vector(corpus, s) for s in rows[i][0].signals]
        csims = [cosine(nc, v) for v in cvs]
        char_scores[i] = max(csims)
        ids = tuple(s.id for s in rows[i][0].signals)
        char_centroids[i] = _centroid_cosine(corpus, "chars", ids, cvs, csims) if len(cvs) > 1 else char_scores[i]
    char_order = sorted(char_scores, key=lambda i: -char_scores[i])
    char_rank = {i: k for k, i in enumerate(char_order)}
    n = len(rows)

    def best_other(order: list[int], scores: dict[int, float] | list[float], i: int) -> float | None:
        """The best score among the other candidates (the runner-up's for the best one)."""
        for j in order[:2]:
            if j != i:
                return scores[j]
        return None

    out = []
    for i, (c, mvs, sims, best) in enumerate(rows):
        m = mvs[best]
        member = c.signals[best]
        shared = [w for w in new_words if w in m.terms.words]
        shared_idf = [idf.get(w, unseen) for w in shared]
        member_mass = m.mass
        others_word = best_other(order, word_scores, i) or 0.0
        chs = char_scores.get(i, 0.0)
        others_char = best_other(char_order, char_scores, i) or 0.0
        latest = max(s.observed_at for s in c.signals)
        facts = {
            "word_best": sims[best],
            "word_centroid": _centroid_cosine(
                corpus, "words", tuple(s.id for s in c.signals), [v.words for v in mvs], sims
            )
            if len(mvs) > 1
            else sims[best],
            "title_best": max(cosine(nv.title, v.title) for v in mvs),
            "char_best": chs,
            "char_centroid": char_centroids.get(i, 0.0),
            "cover_new": sum(shared_idf) / new_mass,
            "cover_member": sum(shared_idf) / member_mass,
            "rarest_shared": max(shared_idf, default=0.0) / unseen,
            "shared_mass": math.log1p(sum(shared_idf) / unseen),
            "word_rank": math.log1p(word_rank[i]),
            "char_rank": math.log1p(char_rank.get(i, CHAR_CANDIDATES)),
            "word_margin": sims[best] - others_word,
            "char_margin": chs - others_char if i in char_scores else -1.0,
            "candidates": math.log1p(n),
            "members": math.log1p(len(mvs)),
            "same_kind": sum(s.kind == new.kind for s in c.signals) / len(c.signals),
            "same_contributor": float(
                any(s.contributor.strip().casefold() == new.contributor.strip().casefold() for s in c.signals)
            ),
            "gap_days": math.log1p(min(_days(new, s) for s in c.signals)),
            "idle_days": math.log1p(max(0.0, (new.observed_at - latest).total_seconds() / 86400.0)),
            "same_source": sum(s.source_system is not None and s.source_system == new.source_system for s in c.signals)
            / len(c.signals),
            "new_length": math.log1p(sum(new_words.values())),
            "member_length": math.log1p(sum(m.terms.words.values())),
            "corpus": math.log1p(corpus.docs),
        }
        gap = min(_days(new, s) for s in c.signals)
        out.append(Scored(c, tuple(facts[f] for f in FEATURES), member.id, facts, word_rank[i], n, gap))
    return out
