"""The analyst's insights page: each report a chart, the table under it and a CSV download.

Reports come from ``app.reports.service``, the same functions behind /v1/reports. A report is one ``Insight`` in
``INSIGHTS``; adding one (a chart of its own, a page section) is one entry there, rendered by
``insights/_report.html`` unless it names its own template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from app.core.csv_export import to_csv
from app.core.db import transaction
from app.core.errors import NotFound
from app.core.settings import Settings
from app.reports import adoption, service
from app.reports.repo import Range
from app.web.deps import UserDep, is_htmx, need_company_reports, render
from schemas.recognition import AdoptionRow
from schemas.reports import AgeingRow, ConcentrationRow, CreditModel, CreditRow, ParticipationRow

router = APIRouter(prefix="/app", include_in_schema=False)

Rows = list[dict[str, Any]]
CHART_TOP = 15  # bars a chart shows; the table holds every row


@dataclass(frozen=True)
class Filters:
    """What the URL asks for: period, function, team and credit model."""

    date_from: date | None
    date_to: date | None
    function: str | None
    team: str | None
    credit: CreditModel

    def query(self) -> str:
        parts = {"from": self.date_from, "to": self.date_to, "function": self.function, "team": self.team}
        pairs = [f"{k}={v}" for k, v in parts.items() if v] + [f"credit={self.credit}"]
        return "&".join(pairs)


def filters(
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    function: Annotated[str | None, Query(max_length=40)] = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
    credit: CreditModel = "originator",
) -> Filters:
    return Filters(date_from, date_to, function or None, team or None, credit)


FiltersDep = Annotated[Filters, Depends(filters)]


@dataclass(frozen=True)
class Context:
    session: Session
    range: Range
    filters: Filters
    settings: Settings
    currency: str = service.DEFAULT_CURRENCY


@dataclass(frozen=True)
class Chart:
    """What app.js hands to Chart.js: labels and one dataset per series."""

    type: Literal["bar", "line"]
    labels: list[str]
    datasets: list[dict[str, Any]]
    stacked: bool = False
    horizontal: bool = False

    def spec(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "labels": self.labels,
            "datasets": self.datasets,
            "stacked": self.stacked,
            "indexAxis": "y" if self.horizontal else "x",
        }


@dataclass(frozen=True)
class Insight:
    name: str
    title: str
    description: str
    columns: list[str]
    compute: Callable[[Context], Rows]
    chart: Callable[[Rows], Chart]
    # Which filters the report honours; the page says when one is set that it cannot apply.
    honours: frozenset[str] = frozenset({"period"})
    template: str = "insights/_report.html"


@dataclass
class Block:
    insight: Insight
    rows: Rows
    chart: dict[str, Any]
    ignored: list[str] = field(default_factory=list)


def _money(value: Any) -> float:
    return float(value or 0)


# Participation -----------------------------------------------------------------------------------------------
def _participation(c: Context) -> Rows:
    by = "team" if c.filters.team and not c.filters.function else "function"
    rows, _summary = service.participation(c.session, by, "month", c.range, c.currency, c.settings.sales_functions)
    wanted = c.filters.team if by == "team" else c.filters.function
    return [r for r in rows if not wanted or r["group"] == wanted]


def _participation_chart(rows: Rows) -> Chart:
    periods = sorted({r["period"][:7] for r in rows})
    groups = sorted({r["group"] or "(no team)" for r in rows})
    series = {g: dict.fromkeys(periods, 0) for g in groups}
    for r in rows:
        series[r["group"] or "(no team)"][r["period"][:7]] = r["active_contributors"]
    datasets = [{"label": g, "data": list(series[g].values())} for g in groups]
    return Chart("line" if len(periods) > 2 else "bar", periods, datasets)  # a line needs a few points


# Adoption (issue 16's weekly adoption report) -----------------------------------------------------------------
def _adoption(c: Context) -> Rows:
    rows, _summary = adoption.adoption(c.session, c.range)
    return [r for r in rows if not c.filters.function or r["function"] == c.filters.function]


def _adoption_chart(rows: Rows) -> Chart:
    weeks = sorted({r["week"] for r in rows})
    functions = sorted({r["function"] for r in rows})
    series = {f: dict.fromkeys(weeks, 0) for f in functions}
    for r in rows:
        series[r["function"]][r["week"]] = r["active_contributors"]
    kind: Literal["bar", "line"] = "line" if len(weeks) > 2 else "bar"
    return Chart(kind, weeks, [{"label": f, "data": list(series[f].values())} for f in functions])


# Contribution and credit -----------------------------------------------------------------------------------
def _credit_by_function(c: Context) -> Rows:
    rows = service.credits(c.session, "function", c.range, c.currency, c.filters.credit)
    return [r for r in rows if not c.filters.function or r["key"] == c.filters.function]


def _credit_by_person(c: Context) -> Rows:
    rows = service.credits(c.session, "contributor", c.range, c.currency, c.filters.credit)
    rows = service.of_people_in(c.session, rows, c.filters.function, c.filters.team)
    return sorted(rows, key=lambda r: -(_money(r["pipeline_value"]) + _money(r["won_value"])))


def _credit_chart(rows: Rows) -> Chart:
    top = sorted(rows, key=lambda r: -(_money(r["pipeline_value"]) + _money(r["won_value"])))[:CHART_TOP]
    labels = [r["label"] or r["key"] or "(none)" for r in top]
    datasets = [
        {"label": "Open pipeline", "data": [_money(r["pipeline_value"]) for r in top]},
        {"label": "Won", "data": [_money(r["won_value"]) for r in top]},
    ]
    return Chart("bar", labels, datasets, stacked=True, horizontal=len(top) > 6)


# Concentration ---------------------------------------------------------------------------------------------
def _concentration(c: Context) -> Rows:
    threshold = service.DEPENDENCE_THRESHOLD
    return service.concentration(c.session, c.range, c.currency, c.filters.credit, threshold, False, 200)


def _concentration_chart(rows: Rows) -> Chart:
    top = rows[:CHART_TOP]
    labels = [r["account_name"] or "(erased)" for r in top]
    shares = [round((r["top_contributor_share"] or 0) * 100, 1) for r in top]
    return Chart("bar", labels, [{"label": "Top contributor's share (%)", "data": shares}], horizontal=True)


# Ageing ----------------------------------------------------------------------------------------------------
def _ageing(c: Context) -> Rows:
    rows = service.ageing(c.session, c.range, service.DEFAULT_SLA_DAYS)
    return [r for r in rows if not c.filters.team or r["team"] == c.filters.team]


def _ageing_chart(rows: Rows) -> Chart:
    per_owner: dict[str, int] = {}
    for r in rows:
        owner = r["owner"] or "(no owner)"
        per_owner[owner] = per_owner.get(owner, 0) + r["opportunities"]
    top = sorted(per_owner.items(), key=lambda kv: -kv[1])[:CHART_TOP]
    data = [{"label": "Opportunities waiting", "data": [n for _, n in top]}]
    return Chart("bar", [o for o, _ in top], data, horizontal=len(top) > 6)


INSIGHTS: list[Insight] = [
    Insight(
        "participation",
        "Participation",
        "Active contributors per month by function (or team), with repeat and new contributors.",
        list(ParticipationRow.model_fields),
        _participation,
        _participation_chart,
        frozenset({"period", "function", "team"}),
    ),
    Insight(
        "adoption",
        "Adoption",
        "Weekly active contributors per function, share of staff and repeat rate.",
        list(AdoptionRow.model_fields),
        _adoption,
        _adoption_chart,
        frozenset({"period", "function"}),
    ),
    Insight(
        "credit-by-function",
        "Contribution and credit by function",
        "Credited open pipeline and won value per function, under the chosen credit model.",
        list(CreditRow.model_fields),
        _credit_by_function,
        _credit_chart,
        frozenset({"period", "function", "credit"}),
    ),
    Insight(
        "credit-by-person",
        "Contribution and credit by person",
        "Credited open pipeline and won value per contributor, under the chosen credit model.",
        list(CreditRow.model_fields),
        _credit_by_person,
        _credit_chart,
        frozenset({"period", "function", "team", "credit"}),
    ),
    Insight(
        "concentration",
        "Concentration",
        "Accounts by value, with the top contributor's share: accounts that hang on one person.",
        list(ConcentrationRow.model_fields),
        _concentration,
        _concentration_chart,
        frozenset({"period", "credit"}),
    ),
    Insight(
        "ageing",
        "Ageing",
        f"Open opportunities with no stage change for {service.DEFAULT_SLA_DAYS} days, by account owner and team.",
        list(AgeingRow.model_fields),
        _ageing,
        _ageing_chart,
        frozenset({"period", "team"}),
    ),
]


def _ignored(insight: Insight, f: Filters) -> list[str]:
    asked = {"function": f.function, "team": f.team}
    return [name for name, value in asked.items() if value and name not in insight.honours]


def _compute(request: Request, f: Filters, chosen: list[Insight]) -> list[tuple[Insight, Rows]]:
    engine = request.app.state.engine
    _start, _end, r = service.date_range(f.date_from, f.date_to)
    with transaction(engine) as session:
        context = Context(session, r, f, request.app.state.settings)
        return [(i, i.compute(context)) for i in chosen]


@router.get("/insights")
def insights(request: Request, user: UserDep, f: FiltersDep) -> Response:
    """The page shell: filters and one placeholder per report, each loaded as its own request (htmx), so the page
    answers at once and the reports compute in parallel."""
    need_company_reports(user)
    start, end, _r = service.date_range(f.date_from, f.date_to)
    settings: Settings = request.app.state.settings
    context = {
        "title": "Insights",
        "insights": INSIGHTS,
        "filters": f,
        "start": start,
        "end": end,
        "functions": settings.contributor_functions,
        "credit_models": ["originator", "equal", "time_weighted"],
    }
    return render(request, "insights/page.html", context)


def _insight(name: str) -> Insight:
    insight = next((i for i in INSIGHTS if i.name == name), None)
    if insight is None:
        raise NotFound(f"no report {name}")
    return insight


@router.get("/insights/{name}.csv")
def insight_csv(request: Request, name: str, user: UserDep, f: FiltersDep) -> Response:
    need_company_reports(user)
    insight = _insight(name)
    ((_, rows),) = _compute(request, f, [insight])
    start, end, _r = service.date_range(f.date_from, f.date_to)
    filename = f"{name}_{start}_{end}.csv"
    return Response(
        to_csv(rows, insight.columns),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/insights/{name}")
def insight_block(request: Request, name: str, user: UserDep, f: FiltersDep) -> Response:
    """One report's section: chart, table and CSV link."""
    need_company_reports(user)
    insight = _insight(name)
    ((_, rows),) = _compute(request, f, [insight])
    block = Block(insight, rows, insight.chart(rows).spec(), _ignored(insight, f))
    if is_htmx(request):
        return render(request, insight.template, {"block": block, "filters": f})
    return render(request, "insights/single.html", {"title": insight.title, "block": block, "filters": f})
