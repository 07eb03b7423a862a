"""A realistic synthetic dataset for development and benchmarks (`signal-pipeline dev seed`).

Skewed like real contribution data: a few contributors and accounts produce most signals, support and delivery
report most, activity grows over two years, opportunities cluster a few signals each from one to a few people,
and older opportunities have outcomes. Bulk-loaded: COPY on PostgreSQL, executemany on SQLite.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import app.tables  # noqa: F401  (the tables the seeder writes)
from app.core.timeutil import utcnow
from app.opportunities.service import CO_CONTRIBUTOR, ORIGINATOR
from app.reports import facts

SPAN_DAYS = 730
# The seeded accounts and synced opportunities belong to a made-up CRM: reports never read which one.
SEED_CRM = "seed-crm"
SEED_CRM_URL = "https://crm.example/deal/{crm_id}"
CHUNK_OPPORTUNITIES = 5000
FUNCTIONS = (
    ("support", 0.28),
    ("delivery", 0.22),
    ("project", 0.12),
    ("consulting", 0.12),
    ("engineering", 0.12),
    ("customer_success", 0.08),
    ("sales", 0.04),
    ("other", 0.02),
)
KINDS = (
    ("inefficiency", 0.25),
    ("changed_need", 0.2),
    ("new_use_case", 0.18),
    ("expansion", 0.17),
    ("renewal_risk", 0.1),
    ("referral", 0.05),
    ("other", 0.05),
)
SOURCES = (("issue-tracker", 0.3), ("helpdesk", 0.25), ("service-desk", 0.15), ("chat-bot", 0.15), ("webform", 0.15))
CURRENCIES = (("SEK", 0.85), ("EUR", 0.1), ("USD", 0.05))
STAGES_OPEN = ("qualification", "needs_analysis", "proposal", "negotiation")
NOTES = (
    "Budget approved for next quarter.",
    "Customer chose to build in-house.",
    "Good lead - thanks, we are in talks.",
    "Timing was wrong; revisit after renewal.",
    "Signed. Great catch!",
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "contributors": (
        "id", "email", "name", "function", "team", "created_at", "first_signal_at", "last_signal_at",
        "signal_count", "erased_at",
    ),
    "accounts": (
        "id", "crm", "crm_id", "name", "legal_name", "aliases", "domains", "country", "owner", "owner_crm_id",
        "created_at", "updated_at",
    ),
    "opportunities": (
        "id", "account_id", "title", "kinds", "signal_count", "first_seen_at", "last_seen_at", "estimated_amount",
        "estimated_currency", "status", "stage", "amount", "currency", "close_date", "note", "stage_changed_at",
        "closed_at", "crm", "crm_id", "crm_url", "synced_at", "merged_into_id", "version", "created_at", "updated_at",
    ),
    "signals": (
        "id", "contributor_id", "account_id", "opportunity_id", "status", "kind", "title", "body", "value_amount",
        "value_currency", "observed_at", "received_at", "source_system", "source_reference", "source_url",
        "customer_hint", "attribution", "match", "opportunity_ref", "api_key_id",
    ),
    "credits": (
        "id", "opportunity_id", "contributor_id", "role", "first_signal_id", "first_observed_at", "signal_count",
    ),
    "opportunity_milestones": ("opportunity_id", "first_synced_at", "first_stage_changed_at", "updated_at"),
}  # fmt: skip
JSON_COLUMNS = frozenset(("aliases", "domains", "kinds", "customer_hint", "attribution", "match"))


class AlreadySeeded(RuntimeError):
    pass


class _Picker:
    """Weighted choice by bisection over cumulative weights (random.choices re-sums on each call)."""

    def __init__(self, items: Sequence[Any], weights: Sequence[float], rng: random.Random) -> None:
        self.items, self.rng = items, rng
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def __call__(self) -> Any:
        return self.items[bisect.bisect_right(self.cum, self.rng.random() * self.total)]


def _uuid7(rng: random.Random, at: datetime) -> uuid.UUID:
    ms = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    return uuid.UUID(int=ms << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62))


def write_rows(engine: Engine, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Bulk-insert ``rows`` (tuples in ``COLUMNS[table]`` order): COPY on PostgreSQL, Core executemany on SQLite."""
    if not rows:
        return
    cols = COLUMNS[table]
    json_idx = {i for i, c in enumerate(cols) if c in JSON_COLUMNS}
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            conn = raw.driver_connection
            assert conn is not None
            with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    if json_idx:
                        row = tuple(json.dumps(v) if i in json_idx else v for i, v in enumerate(row))
                    copy.write_row(row)
            conn.commit()
        finally:
            raw.close()
        return
    # SQLite: through SQLAlchemy Core so the column types store values exactly as the app does.
    typed = sa.insert(SQLModel.metadata.tables[table])
    with engine.begin() as conn:
        conn.execute(typed, [dict(zip(cols, row, strict=True)) for row in rows])


def seed(
    engine: Engine,
    *,
    signals: int,
    opportunities: int,
    contributors: int,
    accounts: int,
    seed: int = 1,
    progress: Callable[[str], None],
) -> dict[str, int]:
    """Generate and bulk-load a dataset; returns the row counts written per table."""
    if opportunities < 1 or contributors < 1 or accounts < 1 or signals < opportunities:
        raise ValueError("need at least one of each, and at least as many signals as opportunities")
    rng = random.Random(seed)
    domain = f"seed{seed}.example"
    with engine.connect() as conn:
        taken = conn.execute(
            sa.text("SELECT COUNT(*) FROM contributors WHERE email LIKE :d"), {"d": f"%@{domain}"}
        ).scalar_one()
    if taken:
        raise AlreadySeeded(f"this database already holds a dataset seeded with --seed {seed}")
    now = utcnow().replace(microsecond=0)
    start = now - timedelta(days=SPAN_DAYS)
    counts: dict[str, int] = dict.fromkeys(COLUMNS, 0)

    def when() -> datetime:
        # Activity grows: density rises linearly towards today.
        return start + timedelta(seconds=SPAN_DAYS * 86400 * math.sqrt(rng.random()))

    # Contributors: functions and teams, Zipf-like activity.
    people = []
    fn_pick = _Picker([f for f, _ in FUNCTIONS], [w for _, w in FUNCTIONS], rng)
    rows: list[tuple[Any, ...]] = []
    for i in range(contributors):
        fn = fn_pick()
        team = f"{fn}-{rng.randint(1, 12)}"
        cid = _uuid7(rng, start)
        people.append((cid, fn, team))
        rows.append((cid, f"person{i}@{domain}", f"Person {i}", fn, team, start, None, None, 0, None))
    write_rows(engine, "contributors", rows)
    counts["contributors"] = len(rows)
    person_pick = _Picker(people, [1 / (r + 1) ** 0.8 for r in range(contributors)], rng)
    progress(f"contributors: {contributors}")

    # Accounts: owners among a few hundred sellers; popularity skewed.
    owners = [f"seller{k}@ourco.example" for k in range(max(1, accounts // 70))]
    acc = []
    rows = []
    for i in range(accounts):
        aid = _uuid7(rng, start)
        name = f"Customer {i} AB"
        acc.append((aid, name, f"customer{i}.se"))
        rows.append(
            (aid, SEED_CRM, f"{900000 + i}", name, None, [], [f"customer{i}.se"], "SE", rng.choice(owners), None,
             start, start)
        )  # fmt: skip
    write_rows(engine, "accounts", rows)
    counts["accounts"] = len(rows)
    account_pick = _Picker(acc, [1 / (r + 1) ** 0.7 for r in range(accounts)], rng)
    progress(f"accounts: {accounts}")

    kind_pick = _Picker([k for k, _ in KINDS], [w for _, w in KINDS], rng)
    source_pick = _Picker([s for s, _ in SOURCES], [w for _, w in SOURCES], rng)
    currency_pick = _Picker([c for c, _ in CURRENCIES], [w for _, w in CURRENCIES], rng)

    # Signals per opportunity: one each, the rest spread with a skew (a few opportunities draw many).
    review = signals // 33 if signals >= opportunities + signals // 33 else 0
    per_opp = [1] * opportunities
    extra_pick = _Picker(range(opportunities), [rng.paretovariate(1.5) for _ in range(opportunities)], rng)
    for _ in range(signals - review - opportunities):
        per_opp[extra_pick()] += 1
    progress(f"planned {opportunities} opportunities; {review} signals wait for review")

    serial = itertools.count()
    for chunk_start in range(0, opportunities, CHUNK_OPPORTUNITIES):
        opp_rows: list[tuple[Any, ...]] = []
        sig_rows: list[tuple[Any, ...]] = []
        credit_rows: list[tuple[Any, ...]] = []
        milestone_rows: list[tuple[Any, ...]] = []
        for o in range(chunk_start, min(opportunities, chunk_start + CHUNK_OPPORTUNITIES)):
            _opportunity(
                rng, now, when(), per_opp[o], account_pick(), person_pick, kind_pick, source_pick, currency_pick,
                serial, domain, opp_rows, sig_rows, credit_rows, milestone_rows,
            )  # fmt: skip
        write_rows(engine, "opportunities", opp_rows)
        write_rows(engine, "signals", sig_rows)
        write_rows(engine, "credits", credit_rows)
        write_rows(engine, "opportunity_milestones", milestone_rows)
        for table, batch in (
            ("opportunities", opp_rows),
            ("signals", sig_rows),
            ("credits", credit_rows),
            ("opportunity_milestones", milestone_rows),
        ):
            counts[table] += len(batch)
        if (chunk_start // CHUNK_OPPORTUNITIES) % 10 == 0:
            progress(f"opportunities: {counts['opportunities']}, signals: {counts['signals']}")

    rows = []
    for _ in range(review):
        person = person_pick()
        _acc_id, acc_name, acc_domain = account_pick()
        at = when()
        rows.append(_signal(rng, at, person[0], None, None, "needs_review", kind_pick(), source_pick(), serial,
                            domain, acc_name, acc_domain))  # fmt: skip
    write_rows(engine, "signals", rows)
    counts["signals"] += len(rows)
    progress(f"signals: {counts['signals']}; updating contributor statistics")
    _contributor_stats(engine)
    progress("building report facts")
    facts.refresh(engine, full=True)
    _analyze(engine)
    progress("done")
    return counts


def _signal(
    rng: random.Random,
    at: datetime,
    contributor_id: uuid.UUID,
    account_id: uuid.UUID | None,
    opportunity_id: uuid.UUID | None,
    status: str,
    kind: str,
    source: str,
    serial: Iterator[int],
    domain: str,
    acc_name: str,
    acc_domain: str,
) -> tuple[Any, ...]:
    n = next(serial)
    value = Decimal(rng.randrange(10, 2000) * 1000) if rng.random() < 0.3 else None
    return (
        _uuid7(rng, at), contributor_id, account_id, opportunity_id, status, kind,
        f"{kind.replace('_', ' ').capitalize()} at {acc_name}",
        f"Noticed during ticket work: the customer described a {kind.replace('_', ' ')} (case {n}).",
        value, "SEK" if value is not None else None, at, at + timedelta(seconds=rng.randint(1, 600)),
        source, f"{source.upper()}-{domain}-{n}", None,
        {"name": acc_name, "domain": acc_domain},
        {"method": "domain", "confidence": 0.95, "evidence": {"domain": acc_domain}, "candidates": []} if account_id
        else {"method": "none", "confidence": 0.0, "evidence": {}, "candidates": []},
        {}, None, None,
    )  # fmt: skip


def _opportunity(
    rng: random.Random,
    now: datetime,
    first: datetime,
    n_signals: int,
    account: tuple[uuid.UUID, str, str],
    person_pick: _Picker,
    kind_pick: _Picker,
    source_pick: _Picker,
    currency_pick: _Picker,
    serial: Iterator[int],
    domain: str,
    opp_rows: list[tuple[Any, ...]],
    sig_rows: list[tuple[Any, ...]],
    credit_rows: list[tuple[Any, ...]],
    milestone_rows: list[tuple[Any, ...]],
) -> None:
    acc_id, acc_name, acc_domain = account
    opp_id = _uuid7(rng, first)
    originator = person_pick()
    times = sorted([first] + [min(now, first + timedelta(days=rng.expovariate(1 / 5))) for _ in range(n_signals - 1)])
    kinds: list[str] = []
    credits: dict[uuid.UUID, list[Any]] = {}
    estimated: Decimal | None = None
    sigs = []
    for i, at in enumerate(times):
        person = originator if i == 0 or rng.random() < 0.3 else person_pick()
        kind = kind_pick()
        if kind not in kinds:
            kinds.append(kind)
        row = _signal(rng, at, person[0], acc_id, opp_id, "attributed", kind, source_pick(), serial, domain,
                      acc_name, acc_domain)  # fmt: skip
        sigs.append(row)
        if row[8] is not None:
            estimated = max(estimated or Decimal(0), row[8])
        credit = credits.get(person[0])
        if credit is None:
            credits[person[0]] = [row[0], at, 1]
        else:
            credit[2] += 1
    last = times[-1]
    age = (now - first).days
    synced = first + timedelta(hours=rng.expovariate(1 / 3)) if rng.random() < 0.95 else None
    synced = min(synced, now) if synced else None
    status, stage, amount, currency, note = "open", STAGES_OPEN[0], None, None, None
    stage_changed = first_stage = closed = close_date = None
    if rng.random() < 0.7:
        amount = Decimal(int(rng.lognormvariate(11.5, 1.0))).quantize(Decimal("1"))
        currency = currency_pick()
    roll = rng.random()
    if age > 30 and roll < 0.52:
        status = "won" if roll < 0.18 else "lost" if roll < 0.40 else "not_pursued"
        closed = min(now, first + timedelta(days=rng.uniform(10, 120)))
        first_stage = first + (closed - first) * rng.uniform(0.1, 0.6)
        stage_changed, close_date = closed, closed.date()
        stage = {"won": "closedwon", "lost": "closedlost", "not_pursued": "closedlost"}[status]
        note = rng.choice(NOTES) if rng.random() < 0.5 else None
    elif rng.random() < 0.6:
        first_stage = min(now, first + timedelta(days=rng.expovariate(1 / 7)))
        stage_changed = min(now, first_stage + timedelta(days=rng.expovariate(1 / 10)))
        stage = rng.choice(STAGES_OPEN[1:])
    opp_rows.append(
        (
            opp_id, acc_id, sigs[0][6], kinds, n_signals, first, last, estimated, "SEK" if estimated else None,
            status, stage, amount, currency, close_date, note, stage_changed, closed,
            SEED_CRM if synced else None, f"deal-{opp_id.hex[:12]}" if synced else None,
            SEED_CRM_URL.format(crm_id=opp_id.int % 10**10) if synced else None,
            synced, None, n_signals, first, max(last, stage_changed or last, synced or last),
        )
    )  # fmt: skip
    sig_rows.extend(sigs)
    for rank, (cid, (sid, at, count)) in enumerate(sorted(credits.items(), key=lambda kv: (kv[1][1], kv[1][0]))):
        credit_rows.append((_uuid7(rng, at), opp_id, cid, ORIGINATOR if rank == 0 else CO_CONTRIBUTOR, sid, at, count))
    if synced or first_stage:
        milestone_rows.append((opp_id, synced, first_stage, max(t for t in (synced, first_stage) if t)))


def _contributor_stats(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                """UPDATE contributors SET signal_count = agg.n, first_signal_at = agg.first_at,
                     last_signal_at = agg.last_at
                   FROM (SELECT contributor_id, COUNT(*) AS n, MIN(observed_at) AS first_at,
                           MAX(observed_at) AS last_at FROM signals GROUP BY contributor_id) AS agg
                   WHERE contributors.id = agg.contributor_id"""
            )
        )


def _analyze(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
