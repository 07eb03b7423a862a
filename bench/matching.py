"""Matching benchmark: deduplication's done-when figures, and account attribution's precision, recall, false
attribution, top-3 recall and speed.

    .venv/bin/python bench/matching.py            # dedup figures, NSI dev, signals-dev, speed (builds bench/data/)
    .venv/bin/python bench/matching.py --dedup-cv # + deduplication's grouped CV run again (bench/train_dedup.py)
    .venv/bin/python bench/matching.py --skip-after-review   # without dedup's figures after review labels (~1 min)
    .venv/bin/python bench/matching.py --skip-speed --cv   # + the name model's grouped-CV figures on NSI dev
    .venv/bin/python bench/matching.py --val      # + NSI val: report it once, never read its errors

Data: the NSI benchmark (name-suggestion-index@8.0.20260918 from npm, turned into accounts and queries by
../shared/data/tools/matching_data.py) and signals-dev (../shared/data/signals-dev). Never a timed test.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz, process  # noqa: E402

from app.attribution import AccountEntry, AccountIndex, CustomerHint, attribute  # noqa: E402
from app.attribution.normalize import fold  # noqa: E402

DATA = ROOT / "bench" / "data"
# ../shared/data beside the checkout (a git worktree sits one level deeper: /work/wt/<name>).
SHARED = next(
    (p for p in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data") if p.exists()),
    ROOT.parent / "shared" / "data",
)
NSI_PACKAGE = "name-suggestion-index@8.0.20260918"
NSI_TGZ = "name-suggestion-index-8.0.20260918.tgz"


def ensure_nsi_data() -> None:
    """Build bench/data/nsi_*.jsonl exactly as shared/data/README.md says, if they are missing."""
    if all((DATA / f).exists() for f in ("nsi_accounts.jsonl", "nsi_queries_dev.jsonl", "nsi_queries_val.jsonl")):
        return
    DATA.mkdir(parents=True, exist_ok=True)
    if not (DATA / NSI_TGZ).exists():
        print(f"fetching {NSI_PACKAGE} with npm pack ...", file=sys.stderr)
        subprocess.run(["npm", "pack", NSI_PACKAGE], cwd=DATA, check=True, stdout=subprocess.DEVNULL)
    tool = SHARED / "tools" / "matching_data.py"
    subprocess.run(
        [sys.executable, str(tool), "nsi", "--package", str(DATA / NSI_TGZ), "--out", str(DATA)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def read_jsonl(path: Path) -> list[dict[str, object]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ------------------------------------------------------------------ NSI
def nsi_entries() -> list[AccountEntry]:
    out = []
    for a in read_jsonl(DATA / "nsi_accounts.jsonl"):
        countries = a.get("countries") or []
        assert isinstance(countries, list)
        out.append(
            AccountEntry(
                id=str(a["account_id"]),
                crm_id=str(a["account_id"]),
                name=str(a["name"]),
                legal_name=str(a["legal_name"]) if a.get("legal_name") else None,
                country=countries[0].upper() if len(countries) == 1 else None,
            )
        )
    return out


def baseline_predictor(entries: list[AccountEntry]) -> Callable[[str], tuple[str | None, list[str]]]:
    """Plain normalisation + rapidfuzz token_set_ratio >= 90, top-1 (the README's baseline)."""

    def norm(s: str) -> str:
        s = unicodedata.normalize("NFKC", s).casefold()
        return " ".join(re.sub(r"[^\w\s]", " ", s).split())

    choices, ids = [], []
    for e in entries:
        for n in {e.name, e.legal_name} - {None}:
            assert n is not None
            choices.append(norm(n))
            ids.append(e.id)

    def predict(text: str) -> tuple[str | None, list[str]]:
        found = process.extract(norm(text), choices, scorer=fuzz.token_set_ratio, limit=3, processor=None)
        top = [ids[i] for _, _, i in found]
        best = found[0] if found else None
        return (ids[best[2]] if best and best[1] >= 90 else None), top

    return predict


def engine_predictor(index: AccountIndex) -> Callable[[str], tuple[str | None, list[str]]]:
    def predict(text: str) -> tuple[str | None, list[str]]:
        a = attribute(CustomerHint(name=text), index)
        top = ([a.account_id] if a.account_id else []) + [c.account_id for c in a.candidates]
        return a.account_id, top[:3]

    return predict


def nsi_metrics(
    queries: list[dict[str, object]], predict: Callable[[str], tuple[str | None, list[str]]]
) -> dict[str, dict[str, float]]:
    return nsi_scores(queries, {str(q["query_id"]): predict(str(q["text"])) for q in queries})


def nsi_scores(
    queries: list[dict[str, object]], preds: dict[str, tuple[str | None, list[str]]]
) -> dict[str, dict[str, float]]:
    """Precision over match+ambiguous queries, recall and top-3 over match, false attribution over no_account."""
    out = {}
    slices = {"nordic_latin": lambda q: bool(q["nordic"]) and bool(q["latin"]), "all": lambda q: True}
    for name, keep in slices.items():
        sel = [q for q in queries if keep(q)]
        known = [q for q in sel if q["label"] != "no_account"]
        match = [q for q in sel if q["label"] == "match"]
        ambiguous = [q for q in sel if q["label"] == "ambiguous"]
        unknown = [q for q in sel if q["label"] == "no_account"]
        made = [q for q in known if preds[str(q["query_id"])][0] is not None]
        correct = [q for q in match if preds[str(q["query_id"])][0] == q["gold"]]
        top3 = [q for q in match if q["gold"] in preds[str(q["query_id"])][1]]
        out[name] = {
            "n": len(sel),
            "precision": len(correct) / len(made) if made else 1.0,
            "recall": len(correct) / len(match) if match else 0.0,
            "top3_recall": len(top3) / len(match) if match else 0.0,
            "ambiguous_attributed": (
                sum(1 for q in ambiguous if preds[str(q["query_id"])][0]) / len(ambiguous) if ambiguous else 0.0
            ),
            "false_attribution": (
                sum(1 for q in unknown if preds[str(q["query_id"])][0]) / len(unknown) if unknown else float("nan")
            ),
        }
    return out


def print_nsi(label: str, split: str, m: dict[str, dict[str, float]]) -> None:
    for sl, v in m.items():
        fa = "   n/a" if v["false_attribution"] != v["false_attribution"] else f"{v['false_attribution']:6.3f}"
        print(
            f"  {label:<9} {split:<4} {sl:<13} n={int(v['n']):5d}  precision {v['precision']:.3f}  "
            f"recall {v['recall']:.3f}  top3 {v['top3_recall']:.3f}  ambiguous-attributed "
            f"{v['ambiguous_attributed']:.3f}  false-attribution {fa}"
        )


def run_nsi(show_errors: int, with_val: bool) -> None:
    """NSI dev with the shipped model (in-sample: the model was fitted on dev; the cross-validated figures are
    bench/train_attribution.py's), and val only when asked: it is reported once, its errors never read."""
    ensure_nsi_data()
    entries = nsi_entries()
    index = AccountIndex.build(entries)
    base = baseline_predictor(entries)
    engine = engine_predictor(index)
    print(
        f"NSI benchmark: {len(entries)} accounts (precision over match+ambiguous queries; recall over match;"
        " false attribution over no_account)"
    )
    for split in ("dev", "val") if with_val else ("dev",):
        queries = read_jsonl(DATA / f"nsi_queries_{split}.jsonl")
        print_nsi("baseline", split, nsi_metrics(queries, base))
        print_nsi("engine" if split == "val" else "in-sample", split, nsi_metrics(queries, engine))
        if show_errors and split == "dev":
            show_nsi_errors(queries, index, show_errors)


def show_nsi_errors(queries: list[dict[str, object]], index: AccountIndex, n: int) -> None:
    wrong = []
    for q in queries:
        a = attribute(CustomerHint(name=str(q["text"])), index)
        if a.account_id is None:
            continue
        if q["label"] != "match" or a.account_id != q["gold"]:
            gold = index.get(str(q["gold"])) if q["gold"] else None
            got = index.get(a.account_id)
            wrong.append(
                f"    {q['label']:<10} {q['text']!r} -> {got.name if got else a.account_id!r} "
                f"[{a.method} {a.confidence}] gold={gold.name if gold else None!r}"
            )
    print(f"  engine dev wrong attributions ({len(wrong)}):")
    for line in wrong[:n]:
        print(line)


# ------------------------------------------------------------------ signals-dev
def run_signals(show_errors: int) -> None:
    accounts = read_jsonl(SHARED / "signals-dev" / "accounts.jsonl")
    signals = read_jsonl(SHARED / "signals-dev" / "signals.jsonl")
    index = AccountIndex.build(
        AccountEntry(
            id=str(a["account_id"]),
            crm_id=str(a["account_id"]),
            name=str(a["name"]),
            legal_name=a.get("legal_name") or None,  # type: ignore[arg-type]
            aliases=tuple(a.get("aliases") or ()),  # type: ignore[arg-type]
            domains=tuple(a.get("domains") or ()),  # type: ignore[arg-type]
            country=a.get("country"),
        )  # type: ignore[arg-type]
        for a in accounts
    )
    made = correct = known = unknown = false_unknown = 0
    errors = []
    by_method: dict[str, int] = {}
    for s in signals:
        hint_raw = s["customer_hint"]
        assert isinstance(hint_raw, dict)
        hint = CustomerHint(**{k: v for k, v in hint_raw.items() if k in CustomerHint.__dataclass_fields__})
        a = attribute(hint, index, text=f"{s['title']}\n{s['body']}")
        gold = s["gold_account_id"]
        by_method[a.method] = by_method.get(a.method, 0) + 1
        if gold is None:
            unknown += 1
            false_unknown += a.account_id is not None
        else:
            known += 1
        if a.account_id is not None:
            made += 1
            correct += a.account_id == gold
        if a.account_id != gold:
            errors.append(f"    {s['signal_id']} gold={gold} got={a.account_id} [{a.method}] hint={hint_raw}")
    print(f"signals-dev: {len(signals)} signals, {len(accounts)} accounts")
    print(
        f"  attribution precision {correct / made:.3f}  recall {correct / known:.3f}  "
        f"coverage {made / len(signals):.3f}  false attribution on unknown customers "
        f"{false_unknown / unknown:.3f} ({false_unknown}/{unknown})  methods {dict(sorted(by_method.items()))}"
    )
    if show_errors:
        print("  misses and errors:")
        for line in errors[:show_errors]:
            print(line)


# ------------------------------------------------------------------ deduplication
DEDUP_TARGETS = {
    "dedup-dev": {"pairwise_precision": 0.97, "hit@3": 0.92, "pairwise_f1": 0.55},
    "signals-dev": {"pairwise_precision": 0.95, "pairwise_recall": 0.85, "bcubed_f1": 0.90},
}


def run_dedup(cv: bool, holdout: bool, after_review: bool) -> None:
    """The done-when figures of deduplication: the held-out folds of the grouped CV that chose the shipped model
    (stored with it by bench/train_dedup.py; --dedup-cv runs that CV again), and, unless skipped, the same folds
    after each set's own review decisions (bench/train_dedup.py's after_review)."""
    from app.dedup.model import shipped_payload

    if cv or holdout:
        from bench.train_dedup import main as train

        train(["--dry-run", *(["--holdout"] if holdout else [])])
    about = shipped_payload()["cv"]
    print(f"deduplication ({about['chosen']}; leave-account-out CV, held-out folds; thresholds chosen on other folds):")
    print("  OUT OF THE BOX (the shipped model; no label of the deployment):")
    for name in DEDUP_TARGETS:
        print_dedup(name, about[name])
    if not after_review:
        return
    from bench.train_dedup import after_review as replayed
    from bench.train_dedup import cached_data, cross_validate, row_weights

    data = cached_data()
    weights = row_weights(data, about.get("weighting", "pooled"))
    figures = replayed(data, cross_validate(data, about["chosen"], weights))
    print(
        "  AFTER THE DEPLOYMENT'S OWN REVIEW DECISIONS (not out of the box: each fold's accounts scored after "
        "`matching calibrate` refitted the fold's model on the review labels of the set's other accounts):"
    )
    for name in DEDUP_TARGETS:
        folds = figures[name].pop("folds")
        print_dedup(name, figures[name])
        refitted = sum(1 for _, _, weights, _ in folds if weights)
        print(
            f"    {'':<11} labels per fold {min(n for n, *_ in folds)}-{max(n for n, *_ in folds)} "
            f"({sum(p for _, p, *_ in folds)} positive in all); weights refitted in {refitted} of {len(folds)} folds; "
            f"kept: {sorted({k for *_, k in folds})}"
        )


def print_dedup(name: str, got: dict[str, float]) -> None:
    parts = []
    for k, want in DEDUP_TARGETS[name].items():
        parts.append(f"{k} {got[k]:.3f} (>= {want:.2f} {'PASS' if got[k] >= want else 'FAIL'})")
    extra = f"pairwise recall {got['pairwise_recall']:.3f}  B3 F1 {got['bcubed_f1']:.3f}  hit@3 {got['hit@3']:.3f}"
    print(f"  {name:<11} " + "  ".join(parts) + f"  | {extra}")


# ------------------------------------------------------------------ speed
_SYL = [
    "berg",
    "vik",
    "holm",
    "dal",
    "sund",
    "strand",
    "lund",
    "gård",
    "näs",
    "torp",
    "by",
    "fors",
    "å",
    "sjö",
    "ek",
    "björk",
    "lin",
    "ro",
    "kärr",
    "hav",
    "fjord",
    "skog",
    "sten",
    "lid",
    "ås",
    "mo",
    "hed",
    "bro",
]
_TRADE = [
    "Energi",
    "Bygg",
    "Fastigheter",
    "Transport",
    "Logistik",
    "Vård",
    "Data",
    "Konsult",
    "Media",
    "Elnät",
    "Fisk",
    "Maskin",
    "Invest",
    "Teknik",
    "Handel",
    "Design",
    "Revision",
    "Shipping",
    "Digital",
]
_FORMS = ["AB", "AB (publ)", "AS", "ASA", "A/S", "ApS", "Oy", "Oyj", "Aktiebolag", ""]


def synthetic_entries(n: int, seed: int = 7) -> list[AccountEntry]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        stem = "".join(rng.choice(_SYL) for _ in range(rng.randint(2, 3))).capitalize()
        name = f"{stem} {rng.choice(_TRADE)}"
        form = rng.choice(_FORMS)
        out.append(
            AccountEntry(
                id=f"SYN{i:06d}",
                crm_id=f"crm-{i}",
                name=name,
                legal_name=f"{name} {form}".strip(),
                aliases=(stem,) if rng.random() < 0.3 else (),
                domains=(f"{fold(stem.lower())}{i}.se",),
            )
        )
    return out


def run_speed(total: int) -> None:
    ensure_nsi_data()
    nsi = nsi_entries()
    entries = nsi + synthetic_entries(total - len(nsi))
    t0, c0 = time.perf_counter(), time.process_time()
    index = AccountIndex.build(entries)
    build, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    gc.freeze()  # as the account directory does after each build (see AccountIndex.build)
    queries = [str(q["text"]) for q in read_jsonl(DATA / "nsi_queries_dev.jsonl")]
    rng = random.Random(3)
    hints = [CustomerHint(name=t) for t in queries]
    hints += [CustomerHint(name=e.name + rng.choice(["", " AB", "s", " Norge"])) for e in rng.sample(entries, 1000)]
    hints += [CustomerHint(email=f"x@{e.domains[0]}") for e in rng.sample(entries[len(nsi) :], 500)]
    t = time.perf_counter()
    attribute(CustomerHint(name="Nordvik Bygg Service AB"), index)  # the first request after a (re)build
    first = time.perf_counter() - t
    for h in hints[:200]:  # warm caches the way a running service would have them
        attribute(h, index)
    times, cpu = [], []
    for h in hints:
        t, c = time.perf_counter(), time.thread_time()
        attribute(h, index)
        cpu.append(time.thread_time() - c)  # CPU time: what the call costs, whatever else the machine runs
        times.append(time.perf_counter() - t)
    times.sort()
    cpu.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1000  # noqa: E731
    cpu_p = lambda q: cpu[min(len(cpu) - 1, int(q * len(cpu)))] * 1000  # noqa: E731
    print(
        f"speed: {len(index)} accounts ({len(nsi)} NSI + {total - len(nsi)} synthetic): "
        f"build {build:.2f} s (cpu {build_cpu:.2f} s, load {os.getloadavg()[0]:.1f}); "
        f"first call {first * 1000:.1f} ms; "
        f"attribute() over {len(times)} hints p50 {p(0.5):.2f} ms  p99 {p(0.99):.2f} ms  max {times[-1] * 1000:.1f} ms"
        f"  mean {statistics.mean(times) * 1000:.2f} ms; cpu p50 {cpu_p(0.5):.2f} ms  p99 {cpu_p(0.99):.2f} ms"
        f"  mean {statistics.mean(cpu) * 1000:.2f} ms"
    )


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-nsi", action="store_true")
    ap.add_argument("--errors", type=int, default=0, help="print this many wrong attributions (dev only)")
    ap.add_argument("--cv", action="store_true", help="the attribution model's grouped-CV figures on NSI dev")
    ap.add_argument("--val", action="store_true", help="also score NSI val (report it once, do not tune on it)")
    ap.add_argument("--accounts", type=int, default=50_000, help="directory size for the speed run")
    ap.add_argument("--dedup-cv", action="store_true", help="run deduplication's grouped CV again")
    ap.add_argument("--dedup-holdout", action="store_true", help="also the held-out accounts (report once)")
    ap.add_argument(
        "--skip-after-review", action="store_true", help="skip the dedup figures after each set's own review labels"
    )
    args = ap.parse_args(list(argv) if argv is not None else None)
    run_dedup(args.dedup_cv, args.dedup_holdout, not args.skip_after_review)
    if args.cv:
        from bench.train_attribution import main as train

        train(["--dry-run"])
    if not args.skip_nsi:
        run_nsi(args.errors, args.val)
    run_signals(args.errors)
    if not args.skip_speed:
        run_speed(args.accounts)


if __name__ == "__main__":
    main()
