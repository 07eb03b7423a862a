"""Recognition statements: a contributor's signals, what became of them and the credit they earned, for a period;
and the same per member of a team, for managers. Never commits.

Credit totals come from ``service.credits``, the credit report's own code, restricted to the people concerned; the
statement's lines are the credit facts behind those totals, so the lines' shares add up to them.
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any, get_args

from sqlmodel import Session

from app.contributors.models import Contributor
from app.core.timeutil import utcnow
from app.reports import service
from app.reports.repo import Range, ReportRepo
from schemas.recognition import (
    CreditTotals,
    Participation,
    PersonRef,
    RecognitionStatement,
    StatementLine,
    StatementSignal,
    TeamMemberRow,
    TeamStatement,
)
from schemas.reports import CreditModel

MODELS: tuple[CreditModel, ...] = get_args(CreditModel)
# Candidates for settings: how many lines a statement lists, how many people a team statement covers.
MAX_LINES = 500
MAX_TEAM = 500


def _cents(value: int | None) -> Decimal | None:
    return None if value is None else service.money(int(value))


def _totals(session: Session, r: Range, currency: str, people: list[uuid.UUID]) -> dict[str, dict[str, CreditTotals]]:
    """Per person (id as text) and credit model: the credit report's row for them."""
    out: dict[str, dict[str, CreditTotals]] = defaultdict(dict)
    for model in MODELS:
        for row in service.credits(session, "contributor", r, currency, model, only=people):
            out[str(row["key"])][model] = CreditTotals(
                credits=row["credits"],
                originated=row["originated"],
                pipeline_value=row["pipeline_value"],
                won_value=row["won_value"],
            )
    return out


def _zero() -> CreditTotals:
    return CreditTotals(credits=0, originated=0, pipeline_value=service.money(0), won_value=service.money(0))


def _medians(counts: dict[str, int], functions: dict[str, tuple[str | None, str]]) -> dict[str, tuple[float, int]]:
    """Per function: the median signal count of its people who reported in the range, and how many they are."""
    by_function: dict[str, list[int]] = defaultdict(list)
    for person, n in counts.items():
        if n > 0 and person in functions:
            by_function[functions[person][1]].append(n)
    return {f: (float(statistics.median(ns)), len(ns)) for f, ns in by_function.items()}


def _signal_counts(repo: ReportRepo, r: Range) -> dict[str, int]:
    # Ids come as text on PostgreSQL and as SQLite's 32-digit hex: one spelling for both.
    return {str(uuid.UUID(str(k))): n for k, n in repo.signal_counts("contributor", r).items()}


def recognition(
    session: Session, person: PersonRef, r: Range, start: date, end: date, currency: str
) -> RecognitionStatement:
    repo = ReportRepo(session)
    totals = _totals(session, r, currency, [person.id]).get(str(person.id), {})
    counts = _signal_counts(repo, r)
    median = _medians(counts, repo.people()).get(person.function)
    lines = repo.statement_lines(person.id, r, MAX_LINES + 1)
    signals = repo.statement_signals(person.id, r, MAX_LINES + 1)
    return RecognitionStatement(
        contributor=person,
        date_from=start,
        date_to=end,
        currency=currency,
        generated_at=utcnow(),
        credit={m: totals.get(m) or _zero() for m in MODELS},
        participation=Participation(
            signals=counts.get(str(person.id), 0),
            function=person.function,
            function_median_signals=median[0] if median else None,
            function_contributors=median[1] if median else 0,
        ),
        opportunities=[_line(row) for row in lines[:MAX_LINES]],
        signals=[StatementSignal.model_validate(row, from_attributes=True) for row in signals[:MAX_LINES]],
        truncated=len(lines) > MAX_LINES or len(signals) > MAX_LINES,
    )


def person_ref(person: Contributor) -> PersonRef:
    return PersonRef(id=person.id, name=person.name, email=person.email, function=person.function, team=person.team)


def _line(row: Any) -> StatementLine:
    return StatementLine(
        opportunity_id=row.opportunity_id,
        title=row.title,
        account=row.account,
        role=row.role,
        first_observed_at=row.first_observed_at,
        status=row.status,
        stage=row.stage,
        currency=row.currency,
        value=_cents(row.value_cents),
        credit_originator=_cents(row.originator_cents),
        credit_equal=_cents(row.equal_cents),
        credit_time_weighted=_cents(row.time_weighted_cents),
        note=row.note,
        crm_url=row.crm_url,
    )


def team(session: Session, name: str, r: Range, start: date, end: date, currency: str) -> TeamStatement:
    """One row per member of ``name`` (at most ``MAX_TEAM``), with the same numbers as their own statements."""
    repo = ReportRepo(session)
    everyone = repo.people()
    members = dict(sorted(repo.people(team=name).items(), key=lambda kv: (kv[1][0] or "", kv[0]))[:MAX_TEAM])
    counts = _signal_counts(repo, r)
    medians = _medians(counts, everyone)
    totals = _totals(session, r, currency, [uuid.UUID(i) for i in members])
    rows = []
    for person, (member_name, function) in members.items():
        t = {m: totals.get(person, {}).get(m) or _zero() for m in MODELS}
        rows.append(
            TeamMemberRow(
                contributor_id=uuid.UUID(person),
                name=member_name,
                function=function,
                signals=counts.get(person, 0),
                function_median_signals=medians[function][0] if function in medians else None,
                credits=t["originator"].credits,
                originated=t["originator"].originated,
                pipeline_originator=t["originator"].pipeline_value,
                won_originator=t["originator"].won_value,
                pipeline_equal=t["equal"].pipeline_value,
                won_equal=t["equal"].won_value,
                pipeline_time_weighted=t["time_weighted"].pipeline_value,
                won_time_weighted=t["time_weighted"].won_value,
            )
        )
    return TeamStatement(team=name, date_from=start, date_to=end, currency=currency, generated_at=utcnow(), rows=rows)


def statement_rows(statement: RecognitionStatement) -> list[dict[str, Any]]:
    """The CSV form: one row per credited opportunity (the totals are their sums)."""
    return [line.model_dump(mode="json") for line in statement.opportunities]


def team_rows(statement: TeamStatement) -> list[dict[str, Any]]:
    return [row.model_dump(mode="json") for row in statement.rows]


def columns(model: type[Any]) -> list[str]:
    return list(model.model_fields)
