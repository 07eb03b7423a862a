"""Calibration from the deployment's own decisions. The stored labels that carry the model's inputs (accepts,
rejects, detaches) refit, cross-validated with folds grouped by account (by signal when the labels come from
fewer accounts than there are folds):

- the Platt scaling of the shipped model's log-odds, with the shipped calibration as a prior;
- where the labels are enough, the logistic regression's weights themselves, shrunk toward the shipped weights
  by an L2 penalty on their distance to them (each weight in units of its feature's spread among the labels),
  the penalty's strength chosen from SHRINKAGE by the cross-validated log-loss. The shipped weights were
  fitted mostly on long bug reports; a deployment of short workplace signals may need the same features
  weighed differently, and only its own labels can say so.

The refit with the lowest cross-validated log-loss is kept (the shipped weights unless refitting them beats the
Platt scaling alone), its thresholds are chosen on its out-of-fold probabilities, and the result is stored; the
service uses the newest calibration. With too few labels the shipped calibration stands. numpy is needed here
only: the service evaluates the stored weights in plain Python (app.dedup.model).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
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
# The weights are len(FEATURES) + 1 parameters: below these counts they are not refitted at all (the
# cross-validation would choose among too few labels per fold to say anything).
MIN_WEIGHT_LABELS = 100
MIN_WEIGHT_EACH = 20
# Candidate strengths of the pull toward the shipped weights (per label, on standardised weights), from close to
# the shipped weights to nearly free; the cross-validated log-loss chooses one.
SHRINKAGE = (10.0, 1.0, 0.1, 0.01, 0.001, 0.0001)


@dataclass(frozen=True)
class Label:
    """One decision as calibration sees it: the model's inputs, whether the pair was the same need, and the
    account and signal it was about (the cross-validation keeps each account's, or signal's, labels together)."""

    features: tuple[float, ...]
    same: bool
    account: str | None
    signal: str


@dataclass(frozen=True)
class Calibration:
    platt_a: float
    platt_b: float
    merge_threshold: float
    suggest_floor: float
    labels: int
    figures: dict[str, Any]
    coef: dict[str, Any] | None = None  # refitted weights {"features", "init", "coef"}; None: the shipped ones


def fit_platt(z: Sequence[float], y: Sequence[bool], prior: tuple[float, float]) -> tuple[float, float]:
    """(a, b) minimising the log-loss of sigmoid(a*z + b) plus PRIOR * |(a, b) - prior|^2, with a >= 0: a
    calibration may rescale the model's log-odds, never reverse their order (labels that rank pairs the other
    way are the weights' refit's business; a reversed scale would auto-merge what the model finds least alike).
    The loss is convex, so when its free minimum has a < 0 the constrained one has a = 0."""
    zz, yy = np.asarray(z, dtype=float), np.asarray(y, dtype=float)
    a, b = _newton_platt(zz, yy, prior, prior, slope=True)
    if a < 0:
        a, b = _newton_platt(zz, yy, prior, (0.0, b), slope=False)
    return a, b


def _newton_platt(
    zz: np.ndarray, yy: np.ndarray, prior: tuple[float, float], start: tuple[float, float], slope: bool
) -> tuple[float, float]:
    """Newton's method for fit_platt (a step halved while it would raise the objective: log-odds far from 0 make
    full steps overshoot); with ``slope`` False only b moves."""

    def objective(a: float, b: float) -> float:
        t = a * zz + b
        return float(np.sum(np.logaddexp(0.0, t) - yy * t)) + PRIOR * ((a - prior[0]) ** 2 + (b - prior[1]) ** 2)

    a, b = start
    value = objective(a, b)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(a * zz + b, -60, 60)))
        d, w = p - yy, p * (1 - p)
        ga, gb = float(d @ zz) + 2 * PRIOR * (a - prior[0]), float(d.sum()) + 2 * PRIOR * (b - prior[1])
        haa, hab, hbb = float(w @ (zz * zz)) + 2 * PRIOR, float(w @ zz), float(w.sum()) + 2 * PRIOR
        if slope:
            det = haa * hbb - hab * hab
            if det <= 1e-12:
                break
            da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        else:
            da, db = 0.0, gb / hbb
        t = 1.0
        while objective(a - t * da, b - t * db) > value and t > 1e-8:
            t /= 2
        a, b = a - t * da, b - t * db
        value = objective(a, b)
        if t * (abs(da) + abs(db)) < 1e-9:
            break
    return a, b


def shipped_weights(model: DedupModel) -> np.ndarray:
    """The shipped logistic regression with its Platt scaling folded in: [intercept, weights...] such that
    probability = sigmoid(intercept + weights . x)."""
    return np.array([model.platt_a * model.init + model.platt_b, *(model.platt_a * c for c in model.coef)])


def _objective(x1: np.ndarray, y: np.ndarray, theta: np.ndarray, prior: np.ndarray, penalty: np.ndarray) -> float:
    z = x1 @ theta
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + np.sum(penalty * (theta - prior) ** 2))


def fit_weights(x: np.ndarray, y: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    """[intercept, weights...] minimising the mean log-loss plus strength * sum_j (sd_j * (w_j - prior_j))^2, sd_j
    the spread of feature j among these labels (so the pull is the same for a feature in [0, 1] and one in log
    days). The intercept is free. A feature constant among the labels says nothing about its weight: it keeps
    the prior's. Newton's method with step halving (the loss is convex)."""
    n = len(y)
    sd = x.std(axis=0)
    x1 = np.hstack([np.ones((n, 1)), x])
    penalty = np.concatenate([[0.0], strength * sd**2])
    free = np.concatenate([[True], sd > 1e-12])
    theta = prior.astype(float).copy()
    current = _objective(x1, y, theta, prior, penalty)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(x1 @ theta, -60, 60)))
        grad = x1.T @ (p - y) / n + 2 * penalty * (theta - prior)
        hess = (x1.T * (p * (1 - p))) @ x1 / n + np.diag(2 * penalty)
        h = hess[np.ix_(free, free)] + 1e-9 * np.eye(int(free.sum()))
        step = np.linalg.solve(h, grad[free])
        t = 1.0
        while True:
            candidate = theta.copy()
            candidate[free] -= t * step
            value = _objective(x1, y, candidate, prior, penalty)
            if value <= current or t < 1e-8:
                break
            t /= 2
        moved = float(np.max(np.abs(candidate - theta)))
        theta, current = candidate, value
        if moved < 1e-9:
            break
    return theta


def _log_loss(p: Sequence[float], y: Sequence[bool]) -> float:
    eps = 1e-12
    return -sum(
        math.log(max(pi, eps)) if yi else math.log(max(1 - pi, eps)) for pi, yi in zip(p, y, strict=True)
    ) / max(len(p), 1)


def _auc(p: Sequence[float], y: Sequence[bool]) -> float:
    """Probability that a random same-need pair scores above a random different-need one (ties count half), by
    the rank-sum formula."""
    score, same = np.asarray(p, dtype=float), np.asarray(y, dtype=bool)
    npos, nneg = int(same.sum()), int((~same).sum())
    if not npos or not nneg:
        return float("nan")
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # 1-based, ties share their mean rank
    return float((ranks[same].sum() - npos * (npos + 1) / 2.0) / (npos * nneg))


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


def folds(rows: Sequence[Label]) -> tuple[list[int], str]:
    """A fold per label, every label of one account (or, with fewer accounts than folds, of one signal) in the
    same fold; groups dealt round-robin in a fixed pseudo-random order so the folds are of similar size."""
    accounts = {r.account for r in rows if r.account is not None}
    by = "account" if len(accounts) >= FOLDS else "signal"
    keys = [(r.account or r.signal) if by == "account" else r.signal for r in rows]
    order = sorted(set(keys), key=lambda k: hashlib.sha256(k.encode()).hexdigest())
    fold_of = {k: i % FOLDS for i, k in enumerate(order)}
    return [fold_of[k] for k in keys], by


def fit(rows: Sequence[Label], model: DedupModel) -> Calibration:
    usable = [r for r in rows if len(r.features) == len(FEATURES)]
    z = [model.log_odds(tuple(r.features)) for r in usable]
    y = [r.same for r in usable]
    positives = sum(y)
    base: dict[str, Any] = {"labels": len(usable), "positive": positives}
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
    fold, grouped_by = folds(usable)
    n = len(usable)
    shipped_p = [sigmoid(prior[0] * zi + prior[1]) for zi in z]
    platt_p = [0.0] * n
    for f in range(FOLDS):
        train = [i for i in range(n) if fold[i] != f]
        a, b = fit_platt([z[i] for i in train], [y[i] for i in train], prior)
        for i in range(n):
            if fold[i] == f:
                platt_p[i] = sigmoid(a * z[i] + b)
    figures = base | {
        "folds": FOLDS,
        "grouped_by": grouped_by,
        "cv_log_loss_shipped": round(_log_loss(shipped_p, y), 4),
        "cv_log_loss_platt": round(_log_loss(platt_p, y), 4),
        "cv_auc_shipped": round(_auc(shipped_p, y), 4),
    }
    # Each candidate is (platt_a, platt_b, weights or None, out-of-fold probabilities); the one with the lowest
    # cross-validated log-loss is kept, so labels that cannot improve on the shipped calibration leave it.
    candidates: dict[str, tuple[float, float, dict[str, Any] | None, list[float]]] = {
        "shipped": (prior[0], prior[1], None, shipped_p),
        "platt": (*fit_platt(z, y, prior), None, platt_p),
    }
    weights_note = _weights_unfit(model, n, positives)
    if weights_note is None:
        x = np.array([r.features for r in usable], dtype=float)
        yy = np.array(y, dtype=float)
        theta0 = shipped_weights(model)
        in_fold = np.array(fold)
        by_strength: dict[float, list[float]] = {}
        for strength in SHRINKAGE:
            oof = np.zeros(n)
            for f in range(FOLDS):
                test = in_fold == f
                if test.any():
                    theta = fit_weights(x[~test], yy[~test], theta0, strength)
                    oof[test] = 1.0 / (1.0 + np.exp(-np.clip(x[test] @ theta[1:] + theta[0], -60, 60)))
            by_strength[strength] = oof.tolist()
        losses = {s: _log_loss(p, y) for s, p in by_strength.items()}
        strength = min(losses, key=losses.__getitem__)
        figures["cv_log_loss_weights"] = {f"{s:g}": round(v, 4) for s, v in losses.items()}
        theta = fit_weights(x, yy, theta0, strength)
        refitted = {"features": list(FEATURES), "init": float(theta[0]), "coef": [float(c) for c in theta[1:]]}
        candidates["weights"] = (1.0, 0.0, refitted, by_strength[strength])
        weights_note = f"shrinkage {strength:g} chosen by cross-validated log-loss"
    loss = {k: _log_loss(c[3], y) for k, c in candidates.items()}
    kept = min(loss, key=loss.__getitem__)
    a, b, weights, refit_p = candidates[kept]
    merge, floor = thresholds(refit_p, y, model)
    figures |= {
        "kept": {"shipped": "the shipped calibration", "platt": "the Platt refit, shipped weights"}.get(
            kept, "the refitted weights"
        ),
        "weights": weights_note,
        "cv_log_loss_refit": round(loss[kept], 4),
        "cv_auc_refit": round(_auc(refit_p, y), 4),
    }
    return Calibration(a, b, merge, floor, n, figures, weights)


def _weights_unfit(model: DedupModel, n: int, positives: int) -> str | None:
    """Why the weights cannot be refitted from these labels, or None when they can."""
    if model.trees or not model.coef:
        return "shipped: the shipped model is not a logistic regression"
    if n < MIN_WEIGHT_LABELS or min(positives, n - positives) < MIN_WEIGHT_EACH:
        return f"shipped: fewer than {MIN_WEIGHT_LABELS} labels or {MIN_WEIGHT_EACH} of each kind"
    return None


def calibrate(session: Session) -> Calibration:
    """Refit from every usable label and store the result (the service picks it up)."""
    rows = session.exec(
        select(MatchLabel).where(col(MatchLabel.kind).in_([labels.ACCEPT, labels.REJECT, labels.DETACH]))
    ).all()
    result = fit(
        [
            Label(
                tuple(r.features),
                r.same,
                str(r.account_id) if r.account_id else None,
                str(r.signal_id or r.id),
            )
            for r in rows
        ],
        shipped(),
    )
    session.add(
        MatchCalibration(
            platt_a=result.platt_a,
            platt_b=result.platt_b,
            merge_threshold=result.merge_threshold,
            suggest_floor=result.suggest_floor,
            labels=result.labels,
            figures=result.figures,
            coef=result.coef,
        )
    )
    return result
