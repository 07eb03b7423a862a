"""On PostgreSQL the reports read rollups, a signal mirror and originator durations; these tests check that every
report answers exactly what the detail queries answer, for ranges that cut months and weeks, and again after
incremental changes (an outcome, a new signal and credit, a contributor changing function and team)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.core.db import transaction
from app.core.timeutil import utcnow
from app.opportunities.models import Credit, Opportunity
from app.reports.milestones import record_milestone
from app.reports.repo import ReportRepo
from app.signals.models import Signal
from tests.api.helpers import reports_current
from tests.conftest import KeyFactory

RANGES = [
    ("2025-01-01", "2025-06-30"),  # whole months only
    ("2025-01-15", "2025-04-10"),  # partial months at both ends
    ("2025-02-26", "2025-03-04"),  # no whole month or week
    ("2024-12-20", "2025-05-09"),  # days, a whole quarter, a month after it, days
    ("2025-02-10", "2025-06-30"),  # days, a month before a whole quarter
    ("2025-01-01", "2025-06-23"),  # two quarters minus the days after the range
    ("2024-12-20", "2025-12-20"),  # days, a year minus the days after the range
    # To today: periods after today are expected to hold no rows (repo.Cover's horizon), so their days are subtracted.
    ("2025-02-10", utcnow().date().isoformat()),
]
GROUPS = ["contributor", "function", "team", "source", "kind", "account", "month", "quarter"]
CASES: list[tuple[str, dict[str, Any]]] = [
    *(("contributions", {"group_by": g, "currency": c}) for g in GROUPS for c in ("SEK", "EUR")),
    *(("credit", {"group_by": g, "credit": m}) for g in GROUPS for m in ("originator", "equal", "time_weighted")),
    *(("participation", {"by": b, "interval": i}) for b in ("function", "team") for i in ("week", "month")),
    *(
        ("concentration", {"credit": m, "limit": lim})
        for m in ("originator", "equal", "time_weighted")
        for lim in (3, 1000)
    ),
    ("concentration", {"credit": "equal", "only_dependent": "true"}),
    ("ageing", {"sla_days": 14}),
    ("adoption", {}),
]


@pytest.fixture(autouse=True)
def _postgresql_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite reads the detail tables only")


def _at(rng: random.Random) -> datetime:
    return datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 180 * 86400))


def _build(engine: sa.Engine, seed: int = 11) -> list[Opportunity]:
    rng = random.Random(seed)
    opps: list[Opportunity] = []
    with transaction(engine) as session:
        people = [
            Contributor(
                email=f"p{i}@ourco.se",
                name=f"P {i}",
                function=rng.choice(["support", "delivery", "sales", "project"]),
                team=rng.choice(["T1", "T2", None]),
            )
            for i in range(12)
        ]
        accounts = [Account(crm_id=f"a{i}", name=f"Acc {i} AB", owner=f"o{i % 3}@ourco.se") for i in range(6)]
        session.add_all([*people, *accounts])
        session.flush()
        firsts: dict[Any, datetime] = {}
        for o in range(45):
            first = _at(rng)
            status = rng.choice(["open", "open", "won", "lost", "not_pursued"])
            amount = Decimal(rng.randint(0, 10**7)) / 100 if rng.random() < 0.8 else None
            account = rng.choice(accounts)
            opp = Opportunity(
                account_id=account.id,
                title=f"o{o}",
                first_seen_at=first,
                last_seen_at=first,
                status=status,
                amount=amount,
                currency=rng.choice(["SEK", "SEK", "EUR"]) if amount is not None else None,
                estimated_amount=Decimal(rng.randint(1, 5000)) if amount is None and rng.random() < 0.5 else None,
                estimated_currency="SEK",
            )
            session.add(opp)
            session.flush()
            opps.append(opp)
            when = first
            for rank, person in enumerate(rng.sample(people, rng.randint(1, 4))):
                s = Signal(
                    contributor_id=person.id,
                    account_id=account.id,
                    opportunity_id=opp.id,
                    kind=rng.choice(["expansion", "inefficiency", "other"]),
                    title="t",
                    body="b",
                    observed_at=when,
                    source_system=rng.choice(["jira", "zendesk"]),
                    source_reference=f"{o}-{rank}",
                )
                session.add(s)
                session.flush()
                session.add(
                    Credit(
                        opportunity_id=opp.id,
                        contributor_id=person.id,
                        role="originator" if rank == 0 else "co_contributor",
                        first_signal_id=s.id,
                        first_observed_at=when,
                    )
                )
                firsts[person.id] = min(firsts.get(person.id, when), when)
                when += timedelta(hours=rng.randint(1, 24 * 20))
            opp.signal_count = rank + 1
            session.add(opp)
            synced = first + timedelta(minutes=rng.randint(1, 5000)) if rng.random() < 0.8 else None
            stage = first + timedelta(minutes=rng.randint(1, 50000)) if rng.random() < 0.5 else None
            if synced or stage:
                record_milestone(session, opp.id, first_synced_at=synced, first_stage_changed_at=stage)
        for i in range(6):
            person = rng.choice(people)
            when = _at(rng)
            session.add(
                Signal(
                    contributor_id=person.id,
                    status="needs_review",
                    kind="other",
                    title="t",
                    body="b",
                    observed_at=when,
                    source_system="webform",
                    source_reference=f"review-{i}",
                )
            )
            firsts[person.id] = min(firsts.get(person.id, when), when)
        for person in people:
            person.first_signal_at = firsts.get(person.id)
            session.add(person)
    return opps


def _answers(client: TestClient, make_key: KeyFactory) -> dict[str, Any]:
    reports_current(client)
    out: dict[str, Any] = {}
    for start, end in RANGES:
        # A key per range: one key's rate limit allows 600 requests a minute.
        headers = {"Authorization": f"Bearer {make_key('reports:read')}"}
        for report, params in CASES:
            r = client.get(f"/v1/reports/{report}", params={"from": start, "to": end, **params}, headers=headers)
            assert r.status_code == 200, r.text
            body = r.json()
            body.pop("generated_at")
            for row in body["rows"]:
                row.pop("oldest_waiting_days", None)
            out[f"{report} {start}..{end} {params}"] = body
    return out


def _compare(client: TestClient, make_key: KeyFactory, monkeypatch: pytest.MonkeyPatch) -> int:
    summarised = _answers(client, make_key)
    with monkeypatch.context() as m:
        m.setattr(ReportRepo, "use_summaries", False)
        detailed = _answers(client, make_key)
    for case, body in detailed.items():
        assert summarised[case] == body, case
    return sum(len(b["rows"]) for b in detailed.values())


def _period(at: datetime, suffix: str) -> str:
    """The first day of the UTC quarter (suffix q) or year (y) of ``at``, as PostgreSQL prints a date."""
    at = at.astimezone(UTC)
    return f"{at.year}-{(at.month - 1) // 3 * 3 + 1:02d}-01" if suffix == "q" else f"{at.year}-01-01"


def _add(cells: dict[tuple[Any, ...], dict[str, int]], cell: tuple[Any, ...], **measures: int) -> None:
    into = cells.setdefault(cell, {})
    for name, value in measures.items():
        into[name] = into.get(name, 0) + value


def _period_rows_from_detail(engine: sa.Engine) -> dict[str, dict[tuple[Any, ...], dict[str, int]]]:
    """The quarterly and yearly rows every rollup should hold, summed in Python from the signals and the credit
    facts: per table, (axis, period, keys..., currency) -> measures."""
    nil = "00000000-0000-0000-0000-000000000000"
    keys = {
        "report_rollup_contributor": lambda r: (str(r.contributor_id),),
        "report_rollup_account": lambda r: (str(r.account_id or nil),),
        "report_rollup_source_kind": lambda r: (r.source_system, r.kind),
    }
    out: dict[str, dict[tuple[Any, ...], dict[str, int]]] = {t: {} for t in keys}
    with engine.connect() as conn:
        facts = conn.execute(sa.text("SELECT * FROM report_credit_facts")).all()
        signal_rows = conn.execute(
            sa.text("SELECT observed_at, contributor_id, account_id, source_system, kind FROM signals")
        ).all()
    for table, key in keys.items():
        add = partial(_add, out[table])
        for p in ("q", "y"):
            for s in signal_rows:
                add((f"s{p}", _period(s.observed_at, p), *key(s), ""), n=1)
            for f in facts:
                first, cur = f.rank == 1, f.currency or ""
                value = f.value_cents or 0
                add(
                    (f"o{p}", _period(f.observed_at, p), *key(f), cur),
                    n=1,
                    originated=int(first),
                    won=int(first and f.status == "won"),
                    lost=int(first and f.status == "lost"),
                    open_c=value if first and f.status == "open" else 0,
                    won_c=value if first and f.status == "won" else 0,
                )
                add(
                    (f"f{p}", _period(f.opp_first_seen_at, p), *key(f), cur),
                    n=1,
                    originated=int(first),
                    eq_open=(f.equal_cents or 0) if f.status == "open" else 0,
                    tw_won=(f.time_weighted_cents or 0) if f.status == "won" else 0,
                    orig_value=value if first else 0,
                )
    return out


def _assert_period_rows_match_detail(engine: sa.Engine) -> None:
    expected = _period_rows_from_detail(engine)
    for table, cells in expected.items():
        key_columns = {"report_rollup_source_kind": "source_system, kind"}.get(
            table, "CAST(contributor_id AS text)" if "contributor" in table else "CAST(account_id AS text)"
        )
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT axis, CAST(month AS text), {key_columns}, currency, n, originated, won, lost, open_c, "
                    f"won_c, eq_open, tw_won, orig_value FROM {table} WHERE axis LIKE '_q' OR axis LIKE '_y'"
                )
            ).all()
        width = len(next(iter(cells)))
        stored = {
            tuple(r[:width]): dict(
                zip(
                    ("n", "originated", "won", "lost", "open_c", "won_c", "eq_open", "tw_won", "orig_value"),
                    r[width:],
                    strict=True,
                )
            )
            for r in rows
        }
        assert set(stored) == set(cells), table
        for cell, measures in cells.items():
            for name, value in measures.items():
                assert stored[cell][name] == value, (table, cell, name)


class TestSummariesMatchDetail:
    def test_every_report_and_range_answers_the_same(
        self, client: TestClient, engine: sa.Engine, make_key: KeyFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _build(engine)
        assert _compare(client, make_key, monkeypatch) > 500

    def test_quarterly_and_yearly_rows_are_the_sums_of_the_detail_rows(
        self, client: TestClient, engine: sa.Engine, make_key: KeyFactory
    ) -> None:
        """The quarterly and yearly rows (built, then kept by deltas) against sums computed here from the signals and
        facts."""
        opps = _build(engine, seed=7)
        reports_current(client)
        _assert_period_rows_match_detail(engine)
        with transaction(engine) as session:  # an outcome moves value between the open and won measures
            opp = session.get(Opportunity, opps[0].id)
            assert opp is not None
            opp.status, opp.amount, opp.currency = "won", Decimal("777.77"), "SEK"
            opp.updated_at = utcnow()
            session.add(opp)
        reports_current(client)
        _assert_period_rows_match_detail(engine)

    def test_incremental_changes_keep_them_equal(
        self,
        client: TestClient,
        engine: sa.Engine,
        make_key: KeyFactory,
        auth: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        opps = _build(engine, seed=5)
        _compare(client, make_key, monkeypatch)  # summaries built
        # An outcome through the API; a contributor moving function and team; a new signal and credit.
        r = client.post(
            f"/v1/opportunities/{opps[3].id}/outcome",
            json={"status": "won", "amount": "1234.56", "currency": "SEK"},
            headers=auth,
        )
        assert r.status_code == 200, r.text
        with transaction(engine) as session:
            opp = session.get(Opportunity, opps[7].id)
            assert opp is not None
            person = session.exec(select(Contributor).where(col(Contributor.email) == "p3@ourco.se")).one()
            person.function, person.team = "engineering", "T9"
            s = Signal(
                contributor_id=person.id,
                account_id=opp.account_id,
                opportunity_id=opp.id,
                kind="expansion",
                title="t",
                body="b",
                observed_at=opp.first_seen_at + timedelta(days=3),
                source_system="jira",
                source_reference="late-1",
            )
            session.add_all([person, s])
            session.flush()
            credited = select(Credit).where(
                col(Credit.opportunity_id) == opp.id, col(Credit.contributor_id) == person.id
            )
            if session.exec(credited).first() is None:
                session.add(
                    Credit(
                        opportunity_id=opp.id,
                        contributor_id=person.id,
                        role="co_contributor",
                        first_signal_id=s.id,
                        first_observed_at=s.observed_at,
                    )
                )
            opp.signal_count += 1
            opp.updated_at = utcnow()
            session.add(opp)
        _compare(client, make_key, monkeypatch)
        _assert_period_rows_match_detail(engine)


class TestReportSum:
    """report_sum (migration 0017), which the summary queries use instead of SUM so that sums stay bigint."""

    def test_equals_sum_with_nulls_negatives_and_values_beyond_a_double(self, engine: sa.Engine) -> None:
        big = 2**53 + 1  # a double would round this
        groups = {1: [big, big, -3, None], 2: [None, None], 3: [7], 4: [0, -0, 5, -5]}
        values = ", ".join(
            f"({g}, CAST({'NULL' if v is None else v} AS bigint))" for g, vs in groups.items() for v in vs
        )
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT g, report_sum(v), CAST(SUM(v) AS bigint), pg_typeof(report_sum(v))::text "
                    f"FROM (VALUES {values}) AS t(g, v) GROUP BY g ORDER BY g"
                )
            ).all()
            none = conn.execute(sa.text("SELECT report_sum(v) FROM (SELECT CAST(1 AS bigint) AS v) t WHERE FALSE"))
            assert none.scalar_one() is None  # no rows: NULL, as SUM
        assert [(g, mine) for g, mine, _sum, _type in rows] == [(1, 2 * big - 3), (2, None), (3, 7), (4, 0)]
        assert all(mine == summed and kind == "bigint" for _g, mine, summed, kind in rows)

    def test_overflow_is_an_error_not_a_wrong_sum(self, engine: sa.Engine) -> None:
        with engine.connect() as conn, pytest.raises(sa.exc.DataError):
            conn.execute(sa.text("SELECT report_sum(v) FROM (VALUES (9223372036854775807), (1)) AS t(v)"))
