"""Document frequencies of the deployment's own signals: what makes a word telling is how rare it is here."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

# IDF weights are recomputed when the corpus has grown by this factor since they were last fixed, so that
# weighted vectors can be cached between refreshes (and a replay and the service see the same weights).
REFRESH_GROWTH = 1.1
SMALL = 50  # below this many documents the weights follow every new one


class Corpus:
    """Document frequencies over signals (words and character n-grams). Smoothed IDF as in scikit-learn:
    ln((1 + N) / (1 + df)) + 1, so a term never seen weighs most and an empty corpus weighs all alike."""

    def __init__(self) -> None:
        self.docs = 0
        self.df: Counter[str] = Counter()
        self.epoch = 0
        self._fixed_at = 0
        self._idf: dict[str, float] = {}
        self._unseen = 1.0

    def add(self, vocabulary: frozenset[str]) -> None:
        self.docs += 1
        self.df.update(vocabulary)
        if self.docs < SMALL or self.docs >= self._fixed_at * REFRESH_GROWTH:
            self._refresh()

    def add_all(self, many: Iterable[frozenset[str]]) -> None:
        for vocabulary in many:
            self.docs += 1
            self.df.update(vocabulary)
        self._refresh()

    def _refresh(self) -> None:
        n = self.docs
        self._idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in self.df.items()}
        self._unseen = math.log(1 + n) + 1.0
        self._fixed_at = n
        self.epoch += 1

    @property
    def idf(self) -> dict[str, float]:
        return self._idf

    @property
    def unseen_idf(self) -> float:
        """The weight of a term the corpus has not seen: the highest there is."""
        return self._unseen
