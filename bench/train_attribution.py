"""Fit the attribution name model on the NSI dev split, cross-validated by account; write its parameters.

    .venv/bin/python bench/train_attribution.py            # prints CV figures, writes the model JSON
    .venv/bin/python bench/train_attribution.py --dry-run  # figures only
    .venv/bin/python bench/train_attribution.py --dry-run --ceiling  # + where recall is capped (dev, out-of-fold)

Data: NSI dev only (built by bench/matching.py from ../shared/data/tools/matching_data.py into bench/data/,
never committed). The val split is not read here. Needs numpy and scikit-learn (training-time only: the
service evaluates the exported trees in plain Python).

Method: every dev query is normalised and its candidate accounts scored for features (app/attribution/
scorer.py); a candidate is positive when it is the query's one gold account. Gradient-boosted trees
(scikit-learn, small and few; exported as plain arrays) are fitted with 5 folds grouped by account (all names of one
organisation, customer or not, fall in one fold). The abstain threshold is chosen inside each training
fold (inner grouped CV) as the lowest probability whose attributions keep precision >= PRECISION_TARGET
and false attribution <= FALSE_ATTRIBUTION_TARGET, then applied to the held-out fold: the figures printed
are those of held-out folds. The shipped model is fitted on all of dev with the threshold chosen the same
way from the out-of-fold predictions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.attribution import AccountIndex  # noqa: E402
from app.attribution.normalize import name_forms  # noqa: E402
from app.attribution.scorer import FEATURES, NameModel, model_from_json, score_name  # noqa: E402
from bench.matching import DATA, ensure_nsi_data, nsi_entries, nsi_scores, read_jsonl  # noqa: E402

MODEL_PATH = ROOT / "app" / "attribution" / "data" / "name_model.json"
FOLDS = 5
# Small trees, few of them: the ensemble is evaluated in plain Python for every candidate of every signal.
BOOSTING = {"n_estimators": 100, "max_depth": 3, "learning_rate": 0.1}
# The targets are the (precision >= 0.95, false attribution <= 2 %) with a safety margin, because
# a threshold chosen on one sample is optimistic on the next.
PRECISION_TARGET = 0.965
FALSE_ATTRIBUTION_TARGET = 0.015

_FEATURES_ONLY = NameModel(0.0, 0.0, (), 1.0)  # scores every candidate 0.5: only the features are read

Query = dict[str, object]


def group_of(q: Query) -> str:
    """The organisation a query names: its gold account, or the non-customer's QID (nsi-unk:Q123:...)."""
    if q.get("gold"):
        return str(q["gold"])
    return str(q["query_id"]).split(":")[1]


def _hash(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16)


def fold_of(group: str) -> int:
    return _hash(f"attrib-cv:{group}") % FOLDS


class Rows:
    """Per query: candidate account ids and their feature matrix."""

    def __init__(self, index: AccountIndex, queries: list[Query]) -> None:
        self.queries = queries
        self.ids: list[list[str]] = []
        self.x: list[np.ndarray] = []
        for q in queries:
            scored = score_name(index, name_forms(str(q["text"])), _FEATURES_ONLY)
            self.ids.append([s.account_id for s in scored])
            self.x.append(np.array([s.features for s in scored], dtype=float).reshape(-1, len(FEATURES)))

    def training_set(self, select: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for i in select:
            q = self.queries[i]
            if q["label"] == "ambiguous" or not len(self.ids[i]):
                continue  # an ambiguous name should be asked about, not taught as one account's
            xs.append(self.x[i])
            ys.append(np.array([a == q["gold"] for a in self.ids[i]], dtype=float))
        return np.vstack(xs), np.concatenate(ys)


def fit(x: np.ndarray, y: np.ndarray) -> GradientBoostingClassifier:
    return GradientBoostingClassifier(random_state=0, **BOOSTING).fit(x, y)


def top_two(model: GradientBoostingClassifier, x: np.ndarray) -> tuple[int, float, float, list[int]]:
    """Index of the best candidate, its probability, the runner-up's, and the first three candidates."""
    if not len(x):
        return -1, 0.0, 0.0, []
    p = model.predict_proba(x)[:, 1]
    order = [int(j) for j in np.argsort(-p, kind="stable")]
    return order[0], float(p[order[0]]), float(p[order[1]]) if len(order) > 1 else 0.0, order[:3]


def exported(model: GradientBoostingClassifier, threshold: float) -> dict[str, object]:
    """The ensemble as plain arrays for app/attribution/scorer.py (no sklearn at run time)."""
    prior = float(model.init_.class_prior_[1])
    trees = []
    for (estimator,) in model.estimators_:
        t = estimator.tree_
        trees.append(
            {
                "feature": [int(v) for v in t.feature],
                "threshold": [float(v) for v in t.threshold],
                "left": [int(v) for v in t.children_left],
                "right": [int(v) for v in t.children_right],
                "value": [float(v) for v in t.value[:, 0, 0]],
            }
        )
    return {
        "init": math.log(prior / (1 - prior)),
        "rate": model.learning_rate,
        "trees": trees,
        "threshold": round(threshold, 4),
    }


def decide(rows: Rows, i: int, best: int, p1: float, p2: float, _top: list[int], threshold: float) -> str | None:
    """The matcher's rule: the best candidate at or above the threshold, unless the runner-up is too."""
    if best < 0 or p1 < threshold or p2 >= threshold:
        return None
    return rows.ids[i][best]


# Thresholds tried: a probability grid fine enough that the next step changes few decisions.
GRID = [round(0.3 + 0.005 * k, 3) for k in range(140)]


def choose_threshold(rows: Rows, scored: dict[int, tuple[int, float, float, list[int]]]) -> float:
    """The lowest threshold meeting the precision and false-attribution targets on these predictions."""
    queries = [rows.queries[i] for i in scored]
    for t in GRID:
        preds = {str(rows.queries[i]["query_id"]): (decide(rows, i, *scored[i], t), []) for i in scored}
        m = nsi_scores(queries, preds)["all"]
        if m["precision"] >= PRECISION_TARGET and not m["false_attribution"] > FALSE_ATTRIBUTION_TARGET:
            return t
    return 1.0


def out_of_fold(
    rows: Rows, select: list[int], folds: int = FOLDS, salt: str = ""
) -> dict[int, tuple[int, float, float, list[int]]]:
    """Grouped CV predictions (best candidate, p1, p2) for the queries in `select`."""
    fold = {
        i: int(hashlib.sha1(f"{salt}:{group_of(rows.queries[i])}".encode()).hexdigest(), 16) % folds for i in select
    }
    out: dict[int, tuple[int, float, float, list[int]]] = {}
    for k in range(folds):
        train = [i for i in select if fold[i] != k]
        model = fit(*rows.training_set(train))
        for i in select:
            if fold[i] == k:
                out[i] = top_two(model, rows.x[i])
    return out


def print_ceiling(rows: Rows, oof: dict[int, tuple[int, float, float, list[int]]]) -> None:
    """Where recall is capped on dev: matches whose account is among the candidates at all, the share of those
    the model ranks first (out-of-fold), and precision/recall by the probability threshold alone."""
    queries = rows.queries
    matches = [i for i, q in enumerate(queries) if q["label"] == "match"]
    no_account = sum(q["label"] == "no_account" for q in queries)
    reachable = [i for i in matches if queries[i]["gold"] in rows.ids[i]]

    def right(i: int) -> bool:
        return oof[i][0] >= 0 and rows.ids[i][oof[i][0]] == queries[i]["gold"]

    first = sum(right(i) for i in reachable)
    print(
        f"ceiling: {len(reachable)}/{len(matches)} matches have their account among the candidates "
        f"({len(reachable) / len(matches):.3f}); ranked first for {first / len(reachable):.3f} of those; "
        f"recall cannot exceed {first / len(matches):.3f}"
    )
    for t in (0.5, 0.7, 0.8, 0.9, 0.95):
        chosen = [i for i in oof if oof[i][0] >= 0 and oof[i][1] >= t and oof[i][2] < t]
        hits = sum(queries[i]["label"] == "match" and right(i) for i in chosen)
        wrongly = sum(queries[i]["label"] == "no_account" for i in chosen)
        print(
            f"  threshold {t:.2f}: precision {hits / max(1, len(chosen)):.3f}  recall {hits / len(matches):.3f}  "
            f"non-customers attributed {wrongly}/{no_account}"
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="print the CV figures, do not write the model")
    ap.add_argument("--ceiling", action="store_true", help="also print the recall ceiling and the P/R curve")
    args = ap.parse_args(argv)
    ensure_nsi_data()
    index = AccountIndex.build(nsi_entries())
    queries = read_jsonl(DATA / "nsi_queries_dev.jsonl")
    rows = Rows(index, queries)
    everything = list(range(len(queries)))
    print(f"NSI dev: {len(queries)} queries, {sum(len(i) for i in rows.ids)} candidate pairs, {FOLDS} folds by account")

    # Outer grouped CV; the threshold of each outer fold is chosen by an inner grouped CV on its training part.
    outer = {i: fold_of(group_of(queries[i])) for i in everything}
    held: dict[str, tuple[str | None, list[str]]] = {}
    thresholds = []
    for k in range(FOLDS):
        train = [i for i in everything if outer[i] != k]
        threshold = choose_threshold(rows, out_of_fold(rows, train, FOLDS - 1, salt=f"inner{k}"))
        thresholds.append(threshold)
        model = fit(*rows.training_set(train))
        for i in everything:
            if outer[i] == k:
                ranked = top_two(model, rows.x[i])
                top3 = [rows.ids[i][j] for j in ranked[3]]
                held[str(queries[i]["query_id"])] = (decide(rows, i, *ranked, threshold), top3)
    cv = nsi_scores(queries, held)
    print("grouped-CV thresholds per fold: " + ", ".join(f"{t:.3f}" for t in thresholds))
    for sl, v in cv.items():
        print(
            f"  CV dev {sl:<13} n={int(v['n']):5d}  precision {v['precision']:.3f}  recall {v['recall']:.3f}  "
            f"ambiguous-attributed {v['ambiguous_attributed']:.3f}  false-attribution {v['false_attribution']:.3f}"
        )

    if args.ceiling:
        print_ceiling(rows, out_of_fold(rows, everything, salt="ceiling"))
    final_threshold = choose_threshold(rows, out_of_fold(rows, everything, salt="final"))
    model = fit(*rows.training_set(everything))
    print(f"final model: threshold {final_threshold:.4f} (chosen on out-of-fold dev predictions)")
    for name, w in sorted(zip(FEATURES, model.feature_importances_, strict=True), key=lambda t: -t[1]):
        print(f"  {name:<18} importance {w:.3f}")
    if args.dry_run:
        return
    payload = {
        "about": "Attribution name model: logistic regression over app/attribution/scorer.py FEATURES, fitted by "
        "bench/train_attribution.py on the NSI dev split, threshold chosen by grouped CV.",
        "features": list(FEATURES),
        "boosting": BOOSTING,
        **exported(model, final_threshold),
        "cv": {sl: {k: round(v, 4) for k, v in m.items()} for sl, m in cv.items()},
    }
    shipped = model_from_json(payload)  # the exported trees must give sklearn's probabilities
    for x in rows.x[:300]:
        for row in x:
            assert abs(shipped.probability(tuple(row)) - model.predict_proba(row[None, :])[0, 1]) < 1e-6
    MODEL_PATH.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
