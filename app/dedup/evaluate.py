"""Scoring deduplication on a labelled set in the shared format (signals.jsonl with gold_account_id and
gold_opportunity, accounts.jsonl): replay the signals in time order, each account's clustering in isolation
(the gold account taken as given), and compute pairwise and B-cubed figures and hit@k. Pure Python: the
service's ``signal-pipeline matching evaluate`` and the training script (bench/train_dedup.py) share it."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.dedup import records as r
from app.dedup.corpus import Corpus
from app.dedup.decide import decide, within_horizon
from app.dedup.features import Scored, candidate_features
from app.dedup.model import DedupModel
from app.dedup.text import vocabulary

Row = dict[str, Any]
HIT_AT = (1, 3, 5)


def read_jsonl(path: Path) -> list[Row]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_signals(directory: Path) -> list[Row]:
    """The labelled signals, in observation order (ties by id)."""
    rows = read_jsonl(directory / "signals.jsonl")
    rows.sort(key=lambda s: (s["observed_at"], s["signal_id"]))
    return rows


def to_text(row: Row) -> r.SignalText:
    return r.SignalText(
        id=str(row["signal_id"]),
        contributor=str(row.get("contributor_email") or ""),
        kind=str(row.get("kind") or ""),
        title=str(row.get("title") or ""),
        body=str(row.get("body") or ""),
        observed_at=datetime.fromisoformat(str(row["observed_at"]).replace("Z", "+00:00")),
        source_system=str(row["source_system"]) if row.get("source_system") else None,
    )


@dataclass
class Step:
    """One signal of a teacher-forced replay: its candidates (the gold opportunities open before it)."""

    row: Row
    scored: list[Scored]
    gold_index: int | None  # position of its gold opportunity among ``scored``; None: nothing earlier


def teacher_forced(rows: Sequence[Row], max_age_days: int) -> Iterator[Step]:
    """Each signal against the gold opportunities of its account as they stood before it. The corpus holds every
    earlier signal of the set (the deployment)."""
    corpus = Corpus()
    opps: dict[str, dict[str, list[r.SignalText]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        text = to_text(row)
        account = row.get("gold_account_id")
        if account is not None:
            pool = [r.OpportunityCandidate(k, None, tuple(v)) for k, v in opps[account].items()]
            scored = candidate_features(text, within_horizon(text, pool, max_age_days), corpus)
            gold = str(row["gold_opportunity"])
            idx = next((i for i, s in enumerate(scored) if s.candidate.id == gold), None)
            yield Step(row, scored, idx)
            opps[account][gold].append(text)
        corpus.add(vocabulary(text.title, text.body))


Decider = Callable[[r.SignalText, Sequence[r.OpportunityCandidate], Corpus], r.Decision]


def replay(rows: Sequence[Row], decider: Decider) -> dict[str, str]:
    """Free replay: each signal joins what ``decider`` says among the opportunities the replay itself built.
    Returns signal id -> predicted opportunity key."""
    corpus = Corpus()
    opps: dict[str, dict[str, list[r.SignalText]]] = defaultdict(dict)
    out: dict[str, str] = {}
    for row in rows:
        text = to_text(row)
        account = row.get("gold_account_id")
        if account is None:
            out[text.id] = f"none:{text.id}"
        else:
            pool = [r.OpportunityCandidate(k, None, tuple(v)) for k, v in opps[account].items()]
            d = decider(text, pool, corpus)
            key = d.opportunity_id if d.opportunity_id in opps[account] else text.id
            opps[account].setdefault(key, []).append(text)
            out[text.id] = key
        corpus.add(vocabulary(text.title, text.body))
    return out


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def clustering_scores(rows: Sequence[Row], predicted: dict[str, str]) -> dict[str, float]:
    """Pairwise precision, recall, F1 and B-cubed precision, recall, F1 over the signals with a gold account."""
    rows = [x for x in rows if x.get("gold_account_id") is not None]
    gold = {x["signal_id"]: (x["gold_account_id"], x["gold_opportunity"]) for x in rows}
    pred = {x["signal_id"]: (x["gold_account_id"], predicted[x["signal_id"]]) for x in rows}
    gold_sets: dict[Any, set[str]] = defaultdict(set)
    pred_sets: dict[Any, set[str]] = defaultdict(set)
    for sid in gold:
        gold_sets[gold[sid]].add(sid)
        pred_sets[pred[sid]].add(sid)
    both: dict[tuple[Any, Any], int] = defaultdict(int)
    for sid in gold:
        both[(gold[sid], pred[sid])] += 1
    tp = sum(_pairs(n) for n in both.values())
    pp = sum(_pairs(len(s)) for s in pred_sets.values())
    gp = sum(_pairs(len(s)) for s in gold_sets.values())
    p = tp / pp if pp else 1.0
    rc = tp / gp if gp else 1.0
    bp = sum(both[(gold[s], pred[s])] / len(pred_sets[pred[s]]) for s in gold) / len(gold) if gold else 1.0
    br = sum(both[(gold[s], pred[s])] / len(gold_sets[gold[s]]) for s in gold) / len(gold) if gold else 1.0
    return {
        "pairwise_precision": p,
        "pairwise_recall": rc,
        "pairwise_f1": 2 * p * rc / (p + rc) if p + rc else 0.0,
        "bcubed_precision": bp,
        "bcubed_recall": br,
        "bcubed_f1": 2 * bp * br / (bp + br) if bp + br else 0.0,
        "predicted_pairs": float(pp),
        "gold_pairs": float(gp),
    }


def hits(steps: Sequence[tuple[Step, list[float]]], merge: float, floor: float) -> dict[str, float]:
    """hit@k over the signals whose gold opportunity was open before them: it is the auto-merge, or among the
    first k duplicate candidates (probability at or above ``floor``)."""
    found = {k: 0 for k in HIT_AT}
    n = 0
    suggested = 0
    for step, probs in steps:
        order = sorted(range(len(probs)), key=lambda i: -probs[i])
        if order and probs[order[0]] < merge:
            suggested += sum(probs[i] >= floor for i in order[:5]) > 0
        if step.gold_index is None:
            continue
        n += 1
        ranked = [order[0]] if order and probs[order[0]] >= merge else [i for i in order if probs[i] >= floor]
        for k in HIT_AT:
            found[k] += step.gold_index in ranked[:k]
    out = {f"hit@{k}": found[k] / n if n else 0.0 for k in HIT_AT}
    out["with_earlier"] = float(n)
    out["suggested_share"] = suggested / len(steps) if steps else 0.0
    return out


def attribution_scores(directory: Path, rows: Sequence[Row]) -> dict[str, float] | None:
    """Attribution of each signal's customer hint against accounts.jsonl: precision over the attributions made,
    recall over the signals with a gold account, false attribution rate over those without. None when the set
    has no account directory."""
    from app.attribution import AccountEntry, AccountIndex, CustomerHint, attribute

    path = directory / "accounts.jsonl"
    if not path.exists():
        return None
    index = AccountIndex.build(
        AccountEntry(
            id=str(a["account_id"]),
            crm_id=str(a["account_id"]),
            name=str(a.get("name") or a["account_id"]),
            legal_name=a.get("legal_name") or None,
            aliases=tuple(a.get("aliases") or ()),
            domains=tuple(a.get("domains") or ()),
            country=a.get("country"),
        )
        for a in read_jsonl(path)
    )
    made = correct = known = unknown = false = 0
    for row in rows:
        hint = row.get("customer_hint") or {}
        got = attribute(
            CustomerHint(**{k: hint.get(k) for k in ("crm_account_id", "email", "domain", "name")}),
            index,
            text=f"{row.get('title', '')}\n{row.get('body', '')}",
        ).account_id
        gold = row.get("gold_account_id")
        known += gold is not None
        unknown += gold is None
        false += gold is None and got is not None
        made += got is not None
        correct += got is not None and got == gold
    return {
        "attribution_precision": correct / made if made else 1.0,
        "attribution_recall": correct / known if known else 0.0,
        "false_attribution_rate": false / unknown if unknown else 0.0,
    }


def evaluate(directory: Path, model: DedupModel, max_age_days: int) -> dict[str, float]:
    """Every figure of ``signal-pipeline matching evaluate`` for one labelled set."""
    rows = load_signals(directory)
    steps = [(s, [model.probability(c.x) for c in s.scored]) for s in teacher_forced(rows, max_age_days)]

    def decider(text: r.SignalText, pool: Sequence[r.OpportunityCandidate], corpus: Corpus) -> r.Decision:
        return decide(text, pool, corpus, model, max_age_days)

    out = {"signals": float(len(rows))}
    out |= clustering_scores(rows, replay(rows, decider))
    out |= hits(steps, model.merge_threshold, model.suggest_floor)
    out |= attribution_scores(directory, rows) or {}
    return out
