"""Contribution reports under /v1/reports (scope reports:read). JSON, or CSV with ?format=csv.

Company-wide reports (everyone's numbers) answer a key bound to a contributor with 403 unless it holds
reports:read:all; such a key reads its own recognition statement only (anyone else's is 404).

Every report takes an inclusive date range (``from``, ``to``; default the last 365 days; at most 3 years).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.contributors.service import readable_contributor
from app.core.api import EngineDep, SessionDep, SettingsDep, problems
from app.core.auth import AdminKey, CompanyReportsKey, ReportsKey
from app.core.csv_export import to_csv
from app.core.db import transaction
from app.core.errors import invalid
from app.core.timeutil import utcnow
from app.reports import adoption, render, service, statements
from app.reports.repo import Range
from schemas.common import DateIn
from schemas.currency import ISO_4217
from schemas.recognition import AdoptionRow, RecognitionStatement, StatementLine, TeamMemberRow, TeamStatement
from schemas.reports import (
    AgeingRow,
    ConcentrationRow,
    ContributionRow,
    CreditModel,
    CreditRow,
    GroupBy,
    ParticipationRow,
    Report,
    StaffCounts,
    StaffCountsRead,
)

router = APIRouter(prefix="/v1/reports", tags=["reports"])

From = Annotated[DateIn | None, Query(alias="from", description="first day (inclusive); default 364 days before 'to'")]
To = Annotated[DateIn | None, Query(alias="to", description="last day (inclusive); default today (UTC)")]
Format = Annotated[Literal["json", "csv"], Query(description="csv: the rows as text/csv, one header line")]
Currency = Annotated[
    str,
    Query(min_length=3, max_length=3, description="values are summed for opportunities in this currency"),
]
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
    **problems(401, 403, 422),
}


def _currency(value: str) -> str:
    code = value.upper()
    if code not in ISO_4217:
        raise invalid("query.currency", "must be an ISO 4217 currency code such as SEK", "unknown_currency")
    return code


def _answer(report: Report[Any], rows: list[dict[str, Any]], fmt: str, columns: list[str]) -> Response:
    """The report with ``rows`` (JSON values, in the order of the row model's fields) as JSON or CSV."""
    if fmt == "csv":
        return Response(to_csv(rows, columns), media_type="text/csv; charset=utf-8")
    body = report.model_dump(mode="json")
    body["rows"] = rows
    # orjson: the standard encoder spent tens of ms on the 17k-20k rows of ageing or credit by account. Rows hold
    # JSON values only (str, int, finite float, None: rates and shares are only divided by non-zero counts).
    return Response(orjson.dumps(body), media_type="application/json")


Rows = list[dict[str, Any]]


def _report(
    engine: Engine,
    name: str,
    row_model: type[BaseModel],
    date_from: date | None,
    date_to: date | None,
    fmt: str,
    compute: Callable[[Session, Range], tuple[Rows, dict[str, Any]]],
    **envelope: Any,
) -> Response:
    """Every report: resolve the range, compute from the report tables (kept current in the background by
    ``facts.run_refresh_loop``: a GET never writes), answer JSON or CSV."""
    start, end, r = service.date_range(date_from, date_to)
    with transaction(engine) as session:
        rows, summary = compute(session, r)
    report = Report[Any](
        report=name, date_from=start, date_to=end, generated_at=utcnow(), rows=[], summary=summary, **envelope
    )
    return _answer(report, rows, fmt, list(row_model.model_fields))


@router.get(
    "/contributions",
    response_model=Report[ContributionRow],
    responses=RESPONSES,
    summary="Signals, opportunities originated and co-contributed, pipeline, won value, win rate, time to CRM",
)
def contributions(
    engine: EngineDep,
    key: CompanyReportsKey,
    date_from: From = None,
    date_to: To = None,
    group_by: GroupBy = "contributor",
    currency: Currency = service.DEFAULT_CURRENCY,
    format: Format = "json",
) -> Response:
    cur = _currency(currency)
    return _report(
        engine,
        "contributions",
        ContributionRow,
        date_from,
        date_to,
        format,
        lambda session, r: (service.contributions(session, group_by, r, cur), {}),
        group_by=group_by,
        currency=cur,
    )


@router.get(
    "/credit",
    response_model=Report[CreditRow],
    responses=RESPONSES,
    summary="Credited pipeline and won value by credit model; an opportunity's shares sum to its value",
)
def credit(
    engine: EngineDep,
    key: CompanyReportsKey,
    date_from: From = None,
    date_to: To = None,
    group_by: GroupBy = "contributor",
    credit: Annotated[
        CreditModel,
        Query(description="originator: all to the first observer; equal; time_weighted: rank r of n weighs n-r+1"),
    ] = "originator",
    currency: Currency = service.DEFAULT_CURRENCY,
    format: Format = "json",
) -> Response:
    cur = _currency(currency)
    return _report(
        engine,
        "credit",
        CreditRow,
        date_from,
        date_to,
        format,
        lambda session, r: (service.credits(session, group_by, r, cur, credit), {}),
        group_by=group_by,
        currency=cur,
        credit=credit,
    )


@router.get(
    "/participation",
    response_model=Report[ParticipationRow],
    responses=RESPONSES,
    summary="Active contributors per function or team per week or month, share of staff, repeat, trend",
)
def participation(
    engine: EngineDep,
    settings: SettingsDep,
    key: CompanyReportsKey,
    date_from: From = None,
    date_to: To = None,
    by: Literal["function", "team"] = "function",
    interval: Literal["week", "month"] = "month",
    currency: Currency = service.DEFAULT_CURRENCY,
    format: Format = "json",
) -> Response:
    cur = _currency(currency)
    return _report(
        engine,
        "participation",
        ParticipationRow,
        date_from,
        date_to,
        format,
        lambda session, r: service.participation(session, by, interval, r, cur, settings.sales_functions),
        group_by=f"{by},{interval}",
        currency=cur,
    )


@router.get(
    "/concentration",
    response_model=Report[ConcentrationRow],
    responses=RESPONSES,
    summary="Per account: distinct contributors and the top contributor's share; accounts that hang on one person",
)
def concentration(
    engine: EngineDep,
    key: CompanyReportsKey,
    date_from: From = None,
    date_to: To = None,
    credit: CreditModel = "originator",
    threshold: Annotated[float, Query(gt=0, le=1, description="top share at which an account depends on one")] = (
        service.DEPENDENCE_THRESHOLD
    ),
    only_dependent: bool = False,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 1000,
    currency: Currency = service.DEFAULT_CURRENCY,
    format: Format = "json",
) -> Response:
    cur = _currency(currency)
    return _report(
        engine,
        "concentration",
        ConcentrationRow,
        date_from,
        date_to,
        format,
        lambda session, r: (
            service.concentration(session, r, cur, credit, threshold, only_dependent, limit),
            {"threshold": threshold},
        ),
        group_by="account",
        currency=cur,
        credit=credit,
    )


@router.get(
    "/ageing",
    response_model=Report[AgeingRow],
    responses=RESPONSES,
    summary="Open opportunities with no stage change past the SLA days or their routed response time, by account "
    "owner and contributor team",
)
def ageing(
    engine: EngineDep,
    key: CompanyReportsKey,
    date_from: From = None,
    date_to: To = None,
    sla_days: Annotated[int, Query(ge=0, le=3650, description="days without a stage change")] = (
        service.DEFAULT_SLA_DAYS
    ),
    format: Format = "json",
) -> Response:
    def compute(session: Session, r: Range) -> tuple[Rows, dict[str, Any]]:
        rows = service.ageing(session, r, sla_days)
        return rows, {
            "sla_days": sla_days,
            "opportunities": sum(x["opportunities"] for x in rows),
            "overdue": sum(x["overdue"] for x in rows),
        }

    return _report(engine, "ageing", AgeingRow, date_from, date_to, format, compute, group_by="owner,team")


@router.put(
    "/staff-counts",
    response_model=StaffCountsRead,
    responses=problems(401, 403, 422),
    summary="Import headcounts per function or team (replaces that dimension's counts)",
)
def put_staff_counts(data: StaffCounts, session: SessionDep, key: AdminKey) -> StaffCountsRead:
    service.replace_staff(session, data.dimension, data.counts)
    return StaffCountsRead(dimension=data.dimension, counts=service.staff(session, data.dimension))


@router.get("/staff-counts", response_model=StaffCountsRead, responses=problems(401, 403, 422))
def get_staff_counts(
    session: SessionDep, key: CompanyReportsKey, dimension: Literal["function", "team"] = "function"
) -> StaffCountsRead:
    return StaffCountsRead(dimension=dimension, counts=service.staff(session, dimension))


# -- recognition statements and adoption ------------------------------------------------------------------------
StatementFormat = Annotated[
    Literal["json", "csv", "pdf", "html"],
    Query(description="csv: one row per credited opportunity; html: the statement page; pdf: the same page as PDF"),
]
STATEMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        }
    },
    **problems(401, 403, 404, 422),
}


def _statement(model: BaseModel, fmt: str, template: str, rows: Rows, columns: list[str], filename: str) -> Response:
    if fmt == "csv":
        return Response(to_csv(rows, columns), media_type="text/csv; charset=utf-8")
    if fmt in ("html", "pdf"):
        page = render.html(template, s=model, limit=statements.MAX_LINES)
        if fmt == "html":
            return Response(page, media_type="text/html; charset=utf-8")
        return Response(
            render.pdf(page),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{filename}.pdf"'},
        )
    return Response(model.model_dump_json().encode(), media_type="application/json")


@router.get(
    "/recognition",
    response_model=RecognitionStatement,
    responses=STATEMENT_RESPONSES,
    summary="A contributor's statement for a period: signals, outcomes, credited pipeline and revenue per credit "
    "model, participation against their function's median (JSON, CSV, HTML or PDF)",
)
def recognition(
    engine: EngineDep,
    key: ReportsKey,
    contributor: Annotated[str, Query(min_length=1, max_length=254, description="contributor id or e-mail")],
    date_from: From = None,
    date_to: To = None,
    currency: Currency = service.DEFAULT_CURRENCY,
    format: StatementFormat = "json",
) -> Response:
    cur = _currency(currency)
    start, end, r = service.date_range(date_from, date_to)
    with transaction(engine) as session:
        person = readable_contributor(session, contributor, key)  # a key bound to a person reads only theirs
        statement = statements.recognition(session, statements.person_ref(person), r, start, end, cur)
    return _statement(
        statement,
        format,
        "recognition.html",
        statements.statement_rows(statement),
        list(StatementLine.model_fields),
        f"recognition-{start}-{end}",
    )


@router.get(
    "/recognition/team",
    response_model=TeamStatement,
    responses=STATEMENT_RESPONSES,
    summary="Every member of a team with their statement's numbers, for their manager (JSON, CSV, HTML or PDF)",
)
def team_recognition(
    engine: EngineDep,
    key: CompanyReportsKey,
    team: Annotated[str, Query(min_length=1, max_length=100)],
    date_from: From = None,
    date_to: To = None,
    currency: Currency = service.DEFAULT_CURRENCY,
    format: StatementFormat = "json",
) -> Response:
    cur = _currency(currency)
    start, end, r = service.date_range(date_from, date_to)
    with transaction(engine) as session:
        statement = statements.team(session, team, r, start, end, cur)
    return _statement(
        statement,
        format,
        "team.html",
        statements.team_rows(statement),
        list(TeamMemberRow.model_fields),
        f"team-recognition-{start}-{end}",
    )


@router.get(
    "/adoption",
    response_model=Report[AdoptionRow],
    responses=RESPONSES,
    summary="Active contributors per week and function, share of staff, repeat rate, median time to first reaction",
)
def adoption_report(
    engine: EngineDep, key: CompanyReportsKey, date_from: From = None, date_to: To = None, format: Format = "json"
) -> Response:
    return _report(
        engine, "adoption", AdoptionRow, date_from, date_to, format, adoption.adoption, group_by="week,function"
    )
