"""What deduplication needs in a running process: the deployment's corpus (document frequencies) and the
duplicate model with the newest calibration. Both are per process and kept current cheaply."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.dedup.corpus import Corpus
from app.dedup.model import DedupModel, shipped
from app.dedup.text import vocabulary
from app.duplicates.models import MatchCalibration
from app.signals.models import Signal

# The corpus starts from the most recent signals (an estimate of the deployment's document frequencies that
# costs one query at the first signal) and grows with every signal this process places.
CORPUS_SAMPLE = 5000


class CorpusCache:
    def __init__(self, sample: int = CORPUS_SAMPLE) -> None:
        self.sample = sample
        self._corpus: Corpus | None = None
        self._lock = threading.Lock()

    def get(self, session: Session) -> Corpus:
        if self._corpus is None:
            with self._lock:
                if self._corpus is None:
                    rows = session.execute(
                        sa.select(Signal.title, Signal.body)  # type: ignore[call-overload]
                        .order_by(col(Signal.observed_at).desc())
                        .limit(self.sample)
                    )
                    corpus = Corpus()
                    corpus.add_all(vocabulary(title, body) for title, body in rows)
                    self._corpus = corpus
        return self._corpus

    def add(self, title: str, body: str) -> None:
        if self._corpus is not None:
            with self._lock:
                self._corpus.add(vocabulary(title, body))


class ModelSource:
    """The shipped model with the newest calibration stored by ``signal-pipeline matching calibrate``, looked
    up again at most every ``recheck_seconds``."""

    def __init__(self, recheck_seconds: float = 30.0) -> None:
        self.recheck_seconds = recheck_seconds
        self._model = shipped()
        self._checked_at = float("-inf")

    def get(self, session: Session) -> DedupModel:
        now = time.monotonic()
        if now - self._checked_at >= self.recheck_seconds:
            self._checked_at = now
            self._model = current(session)
        return self._model


def current(session: Session) -> DedupModel:
    newest = session.exec(select(MatchCalibration).order_by(col(MatchCalibration.id).desc()).limit(1)).first()
    if newest is None:
        return shipped()
    return shipped().calibrated(
        newest.platt_a, newest.platt_b, newest.merge_threshold, newest.suggest_floor, newest.coef
    )


class Matcher:
    """Corpus, model and horizon, as ingest uses them."""

    def __init__(self, max_age_days: int, recheck_seconds: float = 30.0) -> None:
        self.max_age_days = max_age_days
        self.corpus = CorpusCache()
        self.models = ModelSource(recheck_seconds)
