"""Calibration from the deployment's own decisions: the Platt scaling of the shipped model's log-odds and the two
thresholds are refitted on the stored labels that carry the model's inputs (accepts, rejects, detaches), with
the shipped calibration as a prior, cross-validated by signal, and stored; the service uses the newest one.
With too few labels the shipped calibration stands."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from app.dedup.features import FEATURES
from app.dedup.model import DedupModel, shipped, sigmoid
from app.duplicates import labels
from app.duplicates.models import MatchCalibration, MatchLabel

MIN_LABELS = 20
MIN_EACH = 5  # of each class
FOLDS = 5
PRIOR = 1.0  # weight of the shipped calibration, in squared parameter distance
MERGE_PRECISION = 0.98
FLOOR_RECALL = 0.98  # share of the accepted duplicates the suggestion floor must keep
MIN_ABOVE = 10  # labels above a threshold before the labels may move it


@dataclass(frozen=True)
class Calibration:
    platt_a: float
    platt_b: float
    merge_threshold: float
    suggest_floor: float
    labels: int
    figures: dict[str, Any]


def fit_platt(z: Sequence[float], y: Sequence[bool], prior: tuple[float, float]) -> tuple[float, float]:
    """Newton's method on the log-loss of sigmoid(a*z + b) plus PRIOR * |(a, b) - prior|^2."""
    a, b = prior
    for _ in range(50):
        ga, gb = 2 * PRIOR * (a - prior[0]), 2 * PRIOR * (b - prior[1])
        haa, hab, hbb = 2 * PRIOR, 0.0, 2 * PRIOR
        for zi, yi in zip(z, y, strict=True):
            p = sigmoid(a * zi + b)
            d = p - (1.0 if yi else 0.0)
            w = p * (1 - p)
            ga += d * zi
            gb += d
            haa += w * zi * zi
            hab += w * zi
            hbb += w
        det = haa * hbb - hab * hab
        if det <= 1e-12:
            break
        da = (hbb * ga - hab * gb) / det
        db = (haa * gb - hab * ga) / det
        a, b = a - da, b - db
        if abs(da) + abs(db) < 1e-9:
            break
    return a, b


def _log_loss(p: Sequence[float], y: Sequence[bool]) -> float:
    eps = 1e-12
    return -sum(
        math.log(max(pi, eps)) if yi else math.log(max(1 - pi, eps)) for pi, yi in zip(p, y, strict=True)
    ) / max(len(p), 1)


def thresholds(p: Sequence[float], y: Sequence[bool], model: DedupModel) -> tuple[float, float]:
    """Merge: the lowest probability above which the labels are right >= MERGE_PRECISION (once MIN_ABOVE labels
    are above it); floor: the highest that keeps FLOOR_RECALL of the accepted duplicates. Either stays the
    shipped one where the labels cannot say."""
    ranked = sorted(zip(p, y, strict=True), key=lambda t: -t[0])
    merge = model.merge_threshold
    right = 0
    for n, (pi, yi) in enumerate(ranked, 1):
        right += yi
        if n >= MIN_ABOVE and right / n >= MERGE_PRECISION:
            merge = pi
    positives = sorted((pi for pi, yi in ranked if yi), reverse=True)
    floor = model.suggest_floor
    if len(positives) >= MIN_ABOVE:
        keep = positives[min(len(positives) - 1, math.ceil(FLOOR_RECALL * len(positives)) - 1)]
        floor = min(floor, keep)
    return merge, min(floor, merge)


def _fold(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % FOLDS


def fit(rows: Sequence[MatchLabel], model: DedupModel) -> Calibration:
    usable = [r for r in rows if len(r.features) == len(FEATURES)]
    z = [model.log_odds(tuple(r.features)) for r in usable]
    y = [r.same for r in usable]
    positives = sum(y)
    base = {"labels": len(usable), "positive": positives}
    if len(usable) < MIN_LABELS or positives < MIN_EACH or len(usable) - positives < MIN_EACH:
        return Calibration(
            model.platt_a,
            model.platt_b,
            model.merge_threshold,
            model.suggest_floor,
            len(usable),
            base | {"note": f"fewer than {MIN_LABELS} labels or {MIN_EACH} of each kind: the shipped calibration"},
        )
    prior = (model.platt_a, model.platt_b)
    folds = [_fold(str(r.signal_id or r.id)) for r in usable]
    shipped_p, refit_p = [], []
    ys = []
    for f in range(FOLDS):
        train = [i for i in range(len(usable)) if folds[i] != f]
        test = [i for i in range(len(usable)) if folds[i] == f]
        if not test or not train:
            continue
        a, b = fit_platt([z[i] for i in train], [y[i] for i in train], prior)
        shipped_p += [sigmoid(prior[0] * z[i] + prior[1]) for i in test]
        refit_p += [sigmoid(a * z[i] + b) for i in test]
        ys += [y[i] for i in test]
    a, b = fit_platt(z, y, prior)
    p = [sigmoid(a * zi + b) for zi in z]
    merge, floor = thresholds(p, y, model)
    figures = base | {
        "cv_log_loss_shipped": round(_log_loss(shipped_p, ys), 4),
        "cv_log_loss_refit": round(_log_loss(refit_p, ys), 4),
        "folds": FOLDS,
    }
    return Calibration(a, b, merge, floor, len(usable), figures)


def calibrate(session: Session) -> Calibration:
    """Refit from every usable label and store the result (the service picks it up)."""
    rows = session.exec(
        select(MatchLabel).where(col(MatchLabel.kind).in_([labels.ACCEPT, labels.REJECT, labels.DETACH]))
    ).all()
    result = fit(rows, shipped())
    session.add(
        MatchCalibration(
            platt_a=result.platt_a,
            platt_b=result.platt_b,
            merge_threshold=result.merge_threshold,
            suggest_floor=result.suggest_floor,
            labels=result.labels,
            figures=result.figures,
        )
    )
    return result
