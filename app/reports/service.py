"""Report rules: ranges, grouping labels, money from cents, derived rates. Never commits.

Rows are plain dicts holding their JSON values, keys in the order of the row models in ``schemas`` (which document
them): tens of thousands of model instances would cost more than the queries behind them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from app.core.errors import invalid
from app.core.timeutil import utcnow
from app.reports.repo import Range, ReportRepo, day_text

Row = dict[str, Any]

# Candidates for settings: the report currency, the longest range, the ageing SLA and the dependence threshold.
DEFAULT_CURRENCY = "SEK"
MAX_RANGE_DAYS = 3 * 366
DEFAULT_RANGE_DAYS = 365
DEFAULT_SLA_DAYS = 14
DEPENDENCE_THRESHOLD = 0.8
CENT = Decimal("0.01")


def date_range(date_from: date | None, date_to: date | None) -> tuple[date, date, Range]:
    """Inclusive dates (default: the last 365 days) and the matching half-open UTC range; at most 3 years."""
    to = date_to or utcnow().date()
    start = date_from or to - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > to:
        raise invalid("query.from", "must not be after 'to'", "range_reversed")
    if (to - start).days + 1 > MAX_RANGE_DAYS:
        raise invalid("query.to", f"the range may span at most {MAX_RANGE_DAYS} days", "range_too_long")
    begin = datetime.combine(start, time(), UTC)
    end = datetime.combine(to + timedelta(days=1), time(), UTC)
    return start, to, Range(begin, end)


def money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def money_text(cents: int) -> str:
    """``str(money(cents))``, without Decimal arithmetic for the usual non-negative amounts."""
    if cents < 0:
        return str(money(cents))
    return f"{cents // 100}.{cents % 100:02d}"


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def period_key(value: str, unit: str) -> str:
    """'2025-04-01' as 2025-04 (month), 2025-Q2 (quarter) or 2025-04-01 (week: its Monday)."""
    if unit == "month":
        return value[:7]
    if unit == "quarter":
        return f"{value[:4]}-Q{(int(value[5:7]) - 1) // 3 + 1}"
    return value[:10]


def _keys(repo: ReportRepo, group_by: str, raw: Sequence[Any]) -> dict[Any, tuple[str, str | None]]:
    """(key, label) for each raw group value."""
    if repo.summaries and group_by in ("contributor", "account"):  # ids come as text
        table = "contributors" if group_by == "contributor" else "accounts"
        missing = [r for r in raw if r is not None and r not in repo.labels]
        labels = {**repo.labels, **(repo.names_by_text_id(table, missing) if missing else {})}
        out: dict[Any, tuple[str, str | None]] = {r: (r, labels.get(r)) for r in raw if r is not None}
        if None in raw:
            out[None] = ("", "unattributed")
        return out
    if group_by == "contributor":
        ids = {r: _uuid(r) for r in raw}
        names = repo.contributor_names(ids.values())
        return {r: (str(i), names.get(i)) for r, i in ids.items()}
    if group_by == "account":
        ids = {r: _uuid(r) for r in raw if r is not None}
        accounts = repo.account_names(ids.values())
        out = {r: (str(i), accounts.get(i)) for r, i in ids.items()}
        if None in raw:
            out[None] = ("", "unattributed")
        return out
    if group_by in ("month", "quarter"):
        return {r: (period_key(day_text(r), group_by), None) for r in raw}
    return {r: (str(r) if r is not None else "", None) for r in raw}


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(max(seconds, 0.0) / 3600, 2)


def contributions(session: Session, group_by: str, r: Range, currency: str) -> list[Row]:
    repo = ReportRepo(session)
    signals = repo.signal_counts(group_by, r)
    facts = repo.contribution_facts(group_by, r, currency)
    labels = _keys(repo, group_by, [*signals, *facts])
    merged: dict[str, dict[str, Any]] = {}
    for raw, (key, label) in labels.items():
        row = merged.setdefault(key, {"key": key, "label": label, "signals": 0, "facts": None})
        row["signals"] += signals.get(raw, 0)
        if raw in facts:
            row["facts"] = facts[raw]
    rows = []
    for row in merged.values():
        f = row["facts"] or {"originated": 0, "co": 0, "open_c": 0, "won_c": 0, "won": 0, "lost": 0}
        decided = f["won"] + f["lost"]
        rows.append(
            dict(
                key=row["key"],
                label=row["label"],
                signals=row["signals"],
                opportunities_originated=f["originated"],
                opportunities_co_contributed=f["co"],
                open_pipeline_value=money_text(f["open_c"]),
                won_value=money_text(f["won_c"]),
                won=f["won"],
                lost=f["lost"],
                win_rate=round(f["won"] / decided, 4) if decided else None,
                median_hours_to_crm=_hours(f.get("crm_s")),
                median_hours_to_first_stage_change=_hours(f.get("stage_s")),
            )
        )
    return sorted(rows, key=lambda x: str(x["key"]))


def credits(
    session: Session, group_by: str, r: Range, currency: str, model: str, only: Sequence[uuid.UUID] | None = None
) -> list[Row]:
    """The credit report's rows; with ``only``, the credits of those contributors alone (recognition statements)."""
    repo = ReportRepo(session)
    shares = repo.credit_shares(group_by, r, currency, model, only)
    labels = _keys(repo, group_by, list(shares))
    rows = [
        dict(
            key=labels[raw][0],
            label=labels[raw][1],
            credits=v["credits"],
            originated=v["originated"],
            pipeline_value=money_text(v["open_c"]),
            won_value=money_text(v["won_c"]),
        )
        for raw, v in shares.items()
    ]
    return sorted(rows, key=lambda x: str(x["key"]))


def participation(
    session: Session, by: str, unit: str, r: Range, currency: str, sales: Sequence[str]
) -> tuple[list[Row], dict[str, Any]]:
    repo = ReportRepo(session)
    staff = repo.staff(by)
    rows = []
    previous: dict[str, int] = {}
    for p, group, active, repeat in repo.participation(by, unit, r):
        headcount = staff.get(group)
        rows.append(
            dict(
                period=p[:10],
                group=group,
                active_contributors=active,
                staff=headcount,
                share_contributing=round(active / headcount, 4) if headcount else None,
                repeat_contributors=repeat,
                new_contributors=active - repeat,
                trend=active - previous[group] if group in previous else None,
            )
        )
        previous[group] = active
    total, non_sales = repo.originated_by_sales(r, currency, sales)
    summary = {
        "distinct_contributors": repo.distinct_contributors(r),
        "originated_value": str(money(total)),
        "non_sales_originated_value": str(money(non_sales)),
        "non_sales_share": round(non_sales / total, 4) if total else None,
        "sales_functions": list(sales),
    }
    return rows, summary


def concentration(
    session: Session, r: Range, currency: str, model: str, threshold: float, only_dependent: bool, limit: int
) -> list[Row]:
    repo = ReportRepo(session)
    accounts = None
    if repo.summaries and not only_dependent:
        # Without the dependence filter the answer is the top accounts by value, known from the rollups: only
        # those need their contributors grouped.
        accounts = repo.top_accounts(r, currency, model, limit)
    rows = []
    for row in repo.concentration(r, currency, model, accounts):
        total = int(row.acc_open or 0) + int(row.acc_won or 0)
        share = round(int(row.top_c or 0) / total, 4) if total else None
        dependent = int(row.n) == 1 or (share is not None and share >= threshold)
        if only_dependent and not dependent:
            continue
        rows.append((total, row, share, dependent))
    rows.sort(key=lambda x: (-x[0], str(x[1].account_id)))
    rows = rows[:limit]
    names = repo.account_names(_uuid(x[1].account_id) for x in rows)
    return [
        dict(
            account_id=str(_uuid(row.account_id)),
            account_name=names.get(_uuid(row.account_id)),
            contributors=int(row.n),
            pipeline_value=money_text(int(row.acc_open or 0)),
            won_value=money_text(int(row.acc_won or 0)),
            top_contributor_id=str(_uuid(row.top_id)),
            top_contributor_share=share,
            depends_on_one_person=dependent,
        )
        for _total, row, share, dependent in rows
    ]


def ageing(session: Session, r: Range, sla_days: int) -> list[Row]:
    now = utcnow()
    # Unpacked as tuples: one row per (owner, team) pair can mean tens of thousands, and attribute access on each
    # row cost more than the query behind them.
    rows = [
        dict(
            owner=owner,
            team=team,
            opportunities=int(opportunities),
            signals=int(signals or 0),
            oldest_waiting_days=round(float(waiting_s) / 86400, 1),
            overdue=int(overdue or 0),
        )
        for owner, team, opportunities, signals, waiting_s, overdue in ReportRepo(session).ageing(
            r, now - timedelta(days=sla_days), now
        )
    ]
    return sorted(rows, key=lambda x: (-x["opportunities"], x["owner"] or "", x["team"] or ""))


def of_people_in(session: Session, rows: list[Row], function: str | None, team: str | None) -> list[Row]:
    """The rows of a report grouped by contributor whose person is in ``function`` and ``team`` (when given)."""
    if not function and not team:
        return rows
    ids = {_uuid(r["key"]) for r in rows if r["key"]}
    groups = ReportRepo(session).contributor_groups(ids)
    keep = {str(i) for i, (f, t) in groups.items() if (not function or f == function) and (not team or t == team)}
    return [r for r in rows if r["key"] in keep]


def replace_staff(session: Session, dimension: str, counts: dict[str, int]) -> None:
    ReportRepo(session).replace_staff(dimension, counts)


def staff(session: Session, dimension: str) -> dict[str, int]:
    return ReportRepo(session).staff(dimension)
