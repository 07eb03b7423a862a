"""The fitted duplicate model: boosted trees (or a logistic regression) over app.dedup.features.FEATURES,
a Platt calibration of its log-odds, and the two thresholds, all chosen by cross-validation grouped by account
(bench/train_dedup.py writes data/dedup_model.json). A calibration fitted on the deployment's own review
decisions (``signal-pipeline matching calibrate``) replaces the calibration and thresholds, and, where the labels
are enough, the logistic regression's weights; never the features.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

from app.dedup.features import FEATURES


class Tree(NamedTuple):
    """One regression tree as flat arrays (scikit-learn's layout; a leaf has left == -1)."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    def leaf(self, x: tuple[float, ...]) -> float:
        node = 0
        left, feature, threshold = self.left, self.feature, self.threshold
        while left[node] != -1:
            node = left[node] if x[feature[node]] <= threshold[node] else self.right[node]
        return self.value[node]


def sigmoid(z: float) -> float:
    if z < -60:
        return 0.0
    if z > 60:
        return 1.0
    return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class DedupModel:
    """log-odds = init + rate * sum(tree leaves) + coef . x; probability = sigmoid(platt_a * log-odds + platt_b)."""

    init: float
    rate: float
    trees: tuple[Tree, ...]
    coef: tuple[float, ...]  # a logistic regression's weights (empty for trees)
    platt_a: float
    platt_b: float
    merge_threshold: float  # join the best candidate at or above this probability
    suggest_floor: float  # below the merge threshold but at or above this: a duplicate candidate
    source: str = "fitted"  # "fitted" (the shipped file) or "calibrated" (refitted on the deployment's labels)

    def log_odds(self, x: tuple[float, ...]) -> float:
        z = self.init + self.rate * sum(t.leaf(x) for t in self.trees)
        if self.coef:
            z += sum(c * v for c, v in zip(self.coef, x, strict=True))
        return z

    def probability(self, x: tuple[float, ...]) -> float:
        return sigmoid(self.platt_a * self.log_odds(x) + self.platt_b)

    def calibrated(
        self, platt_a: float, platt_b: float, merge: float, floor: float, weights: dict[str, Any] | None = None
    ) -> DedupModel:
        """This model under a calibration fitted on a deployment's labels (``signal-pipeline matching
        calibrate``): its Platt scaling and thresholds and, where it refitted them, the logistic regression's
        weights (``{"features", "init", "coef"}``). Weights fitted for other features (an older release) are not
        used, and neither is the rest of that calibration: it was chosen with them."""
        if weights is not None and tuple(weights.get("features", ())) != FEATURES:
            return self
        refit: dict[str, Any] = {}
        if weights is not None:  # a refitted logistic regression replaces the shipped weights (and any trees)
            refit = {
                "init": float(weights["init"]),
                "coef": tuple(float(c) for c in weights["coef"]),
                "trees": (),
                "rate": 0.0,
            }
        return replace(
            self,
            **refit,
            platt_a=platt_a,
            platt_b=platt_b,
            merge_threshold=merge,
            suggest_floor=floor,
            source="calibrated",
        )


def model_from_json(data: dict[str, Any]) -> DedupModel:
    if tuple(data["features"]) != FEATURES:
        raise ValueError("dedup_model.json was fitted for other features: run bench/train_dedup.py")
    trees = tuple(
        Tree(
            tuple(int(v) for v in t["feature"]),
            tuple(float(v) for v in t["threshold"]),
            tuple(int(v) for v in t["left"]),
            tuple(int(v) for v in t["right"]),
            tuple(float(v) for v in t["value"]),
        )
        for t in data.get("trees", [])
    )
    return DedupModel(
        init=float(data["init"]),
        rate=float(data.get("rate", 0.0)),
        trees=trees,
        coef=tuple(float(v) for v in data.get("coef", [])),
        platt_a=float(data["platt"][0]),
        platt_b=float(data["platt"][1]),
        merge_threshold=float(data["merge_threshold"]),
        suggest_floor=float(data["suggest_floor"]),
    )


@cache
def shipped_payload() -> dict[str, Any]:
    """The fitted parameters as bench/train_dedup.py wrote them, with the CV figures that chose them."""
    data: dict[str, Any] = json.loads(resources.files("app.dedup").joinpath("data/dedup_model.json").read_text("utf-8"))
    return data


@cache
def shipped() -> DedupModel:
    """The model fitted by bench/train_dedup.py, shipped as package data."""
    return model_from_json(shipped_payload())
