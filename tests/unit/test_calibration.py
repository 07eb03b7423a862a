"""Calibration's refit of the duplicate model's weights from a deployment's labels (app.duplicates.calibration):
few labels leave the shipped weights; labels from a distribution the shipped weights get wrong refit them,
shrunk toward the shipped ones, when the grouped cross-validation says the refit predicts better."""

from __future__ import annotations

import math
import random

import numpy as np

from app.dedup.features import FEATURES
from app.dedup.model import shipped
from app.duplicates.calibration import MIN_WEIGHT_LABELS, Label, fit, fit_platt, fit_weights, shipped_weights

SAME_CONTRIBUTOR = FEATURES.index("same_contributor")


def skewed(n: int, seed: int = 1) -> list[Label]:
    """A deployment where the same person reporting again means the same need (the shipped weights, fitted mostly
    on bug reports, count it against) and wording says nothing; ten accounts."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        same = rng.random() < 0.3
        x = [rng.random() for _ in FEATURES]
        x[SAME_CONTRIBUTOR] = float(rng.random() < (0.9 if same else 0.1))
        out.append(Label(tuple(x), same, f"account-{i % 10}", f"signal-{i}"))
    return out


def test_few_labels_keep_the_shipped_weights() -> None:
    result = fit(skewed(MIN_WEIGHT_LABELS // 2), shipped())
    assert result.coef is None
    assert "fewer than" in result.figures["weights"]


def test_enough_labels_refit_the_weights_and_improve_the_cross_validated_log_loss() -> None:
    result = fit(skewed(4 * MIN_WEIGHT_LABELS), shipped())
    assert result.coef is not None and result.coef["features"] == list(FEATURES)
    assert result.figures["grouped_by"] == "account"
    assert result.figures["cv_log_loss_refit"] < result.figures["cv_log_loss_platt"]
    assert result.figures["cv_log_loss_refit"] < result.figures["cv_log_loss_shipped"]
    assert result.figures["cv_auc_refit"] > result.figures["cv_auc_shipped"]
    # the weight the shipped model got wrong for this deployment changes sign; the probabilities are the refit's
    assert shipped().coef[SAME_CONTRIBUTOR] < 0 < result.coef["coef"][SAME_CONTRIBUTOR]
    assert (result.platt_a, result.platt_b) == (1.0, 0.0)


def test_a_strong_pull_keeps_the_shipped_weights_and_a_constant_feature_keeps_its_weight() -> None:
    labels = skewed(300)
    x = np.array([r.features for r in labels])
    x[:, FEATURES.index("corpus")] = 3.0  # the same for every label: nothing to learn about its weight
    y = np.array([r.same for r in labels], dtype=float)
    prior = shipped_weights(shipped())
    held = fit_weights(x, y, prior, 1e6)
    assert np.allclose(held[1:], prior[1:], atol=1e-3)
    free = fit_weights(x, y, prior, 1e-4)
    assert free[1 + FEATURES.index("corpus")] == prior[1 + FEATURES.index("corpus")]
    assert free[1 + SAME_CONTRIBUTOR] > 1.0


def test_the_platt_refit_never_reverses_the_models_order() -> None:
    z = [float(v) for v in range(-10, 11)]
    y = [v < 0 for v in z]  # labels that rank the pairs the other way round
    a, b = fit_platt(z, y, (1.0, 0.0))
    # no slope: b between the labels' log-odds of a duplicate (10 of 21) and the prior's 0
    assert a == 0.0 and math.log(10 / 11) < b < 0.0
    a, _ = fit_platt(z, [not v for v in y], (1.0, 0.0))
    assert a > 1.0  # the same labels in the model's order sharpen its scale
