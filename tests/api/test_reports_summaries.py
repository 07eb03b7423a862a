"""On PostgreSQL the reports read rollups, a signal mirror and originator durations; these tests check that every
report answers exactly what the detail queries answer, for ranges that cut months and weeks, and again after
incremental changes (an outcome, a new signal and credit, a contributor changing function and team)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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


def _answers(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    reports_current(client)
    out: dict[str, Any] = {}
    for start, end in RANGES:
        for report, params in CASES:
            r = client.get(f"/v1/reports/{report}", params={"from": start, "to": end, **params}, headers=headers)
            assert r.status_code == 200, r.text
            body = r.json()
            body.pop("generated_at")
            for row in body["rows"]:
                row.pop("oldest_waiting_days", None)
            out[f"{report} {start}..{end} {params}"] = body
    return out


def _compare(client: TestClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    summarised = _answers(client, headers)
    with monkeypatch.context() as m:
        m.setattr(ReportRepo, "use_summaries", False)
        detailed = _answers(client, headers)
    for case, body in detailed.items():
        assert summarised[case] == body, case
    return sum(len(b["rows"]) for b in detailed.values())


class TestSummariesMatchDetail:
    def test_every_report_and_range_answers_the_same(
        self, client: TestClient, engine: sa.Engine, make_key: KeyFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _build(engine)
        headers = {"Authorization": f"Bearer {make_key('reports:read')}"}
        assert _compare(client, headers, monkeypatch) > 500

    def test_incremental_changes_keep_them_equal(
        self,
        client: TestClient,
        engine: sa.Engine,
        make_key: KeyFactory,
        auth: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        opps = _build(engine, seed=5)
        headers = {"Authorization": f"Bearer {make_key('reports:read')}"}
        _compare(client, headers, monkeypatch)  # summaries built
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
        _compare(client, headers, monkeypatch)
