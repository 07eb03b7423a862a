"""Report queries: aggregates in SQL, spelled for PostgreSQL or SQLite.

On PostgreSQL, sums come from the rollups' year, quarter, month and day rows, added and subtracted (``Cover``), with
``report_sum`` (migration 0017: an exact bigint sum that, unlike SUM, does not return numeric);
distinct contributors from whole months (weeks for weekly participation) and the days at the range ends (``Split``);
medians are read from ``report_durations`` in index order. On SQLite every report reads the fact table and signals
directly.
"""

from __future__ import annotations

import re
import statistics
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.core.timeutil import UTCDateTime, utcnow
from app.reports import rollups
from app.reports.models import _MEASURES, StaffCount
from app.routing.reaction import first_reaction_sql

CREDIT_COLUMNS = {
    "originator": "originator_cents",
    "equal": "equal_cents",
    "time_weighted": "time_weighted_cents",
}
PERSON_DIMS = frozenset(("function", "team"))


@dataclass(frozen=True)
class Range:
    start: datetime
    end: datetime  # exclusive


def _period_floor(day: date, unit: str) -> date:
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "year":
        return date(day.year, 1, 1)
    if unit == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(day=1)


def _period_ceil(day: date, unit: str) -> date:
    floor = _period_floor(day, unit)
    if floor == day:
        return day
    if unit == "week":
        return floor + timedelta(days=7)
    if unit == "year":
        return date(day.year + 1, 1, 1)
    if unit == "quarter":
        return (floor + timedelta(days=95)).replace(day=1)
    return (floor + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class Split:
    """A day-aligned range as whole periods [whole_from, whole_to) read from a rollup's period rows, and the days
    of the partial periods at its ends, [start, head_end) and [tail_start, end), read from its daily rows."""

    whole_from: date
    whole_to: date
    start: date
    head_end: date
    tail_start: date
    end: date

    @classmethod
    def of(cls, r: Range, unit: str = "month") -> Split:
        start, end = r.start.date(), r.end.date()
        first = _period_ceil(start, unit)
        last = _period_floor(end, unit)
        if first >= last:  # no whole period: every day from the daily rows
            return cls(first, first, start, end, end, end)
        return cls(first, last, start, first, last, end)

    def params(self) -> dict[str, Any]:
        return {
            "wf": self.whole_from,
            "wt": self.whole_to,
            "h1": self.start,
            "h2": self.head_end,
            "t1": self.tail_start,
            "t2": self.end,
        }


# Rollup axis suffix per period, and a rough cost of reading one period's rows: a day holds far fewer rows than a
# month, and a year not many more than a quarter (most keys have a row in most months). Periods that start after
# today hold no rows (nothing is dated in the future, as a rule): reading them costs an index probe, whatever their
# length. Each segment costs a little too (one more probe and branch), so that fewer are preferred.
_SUFFIX = {"year": "y", "quarter": "q", "month": "", "day": "d"}
_COST = {"year": 30, "quarter": 20, "month": 10, "day": 1}
_SEGMENT_COST = 0.5
Segment = tuple[str, int, date, date]  # (period, +1 or -1, first period's start, last period's end)


def _periods(a: date, b: date, unit: str) -> int:
    months = (b.year - a.year) * 12 + b.month - a.month
    return {"day": (b - a).days, "month": months, "quarter": months // 3, "year": b.year - a.year}[unit]


def _cost(first: date, last: date, unit: str, horizon: date) -> float:
    """What reading the ``unit`` rows of [first, last) costs, where only periods starting before ``horizon`` (the
    first day with no rows expected) hold rows."""
    held = _periods(first, min(last, _period_ceil(horizon, unit)), unit) if first < horizon else 0
    return held * _COST[unit] + _SEGMENT_COST


@lru_cache(maxsize=4096)
def _cover(
    start: date, end: date, units: tuple[str, ...], sign: int, horizon: date
) -> tuple[float, tuple[Segment, ...]]:
    """The cheapest signed sum of period rows equal to the days [start, end), by ``_cost``: each end of a run of
    whole periods either stops at the boundary inside the range (the days or months short of the end are added) or
    at the one outside it (what overshoots is subtracted), recursively with the smaller periods. The 365 days to
    2026-12-06, read on 2026-12-06: December 2025 minus its first 6 days, plus 2026 minus the days from 2026-12-07
    (which hold no rows yet); whole periods inside the range alone would take 3 quarters, 2 months and 31 days.
    Every choice is exact: each day's signed count is 1 inside the range and 0 outside, whatever ``horizon`` says."""
    if start >= end:
        return 0.0, ()
    unit = units[0]
    if len(units) == 1:
        return _cost(start, end, unit, horizon), ((unit, sign, start, end),)
    best = _cover(start, end, units[1:], sign, horizon)
    for first in {_period_floor(start, unit), _period_ceil(start, unit)}:
        for last in {_period_floor(end, unit), _period_ceil(end, unit)}:
            if first >= last:
                continue
            cost, segments = _cost(first, last, unit, horizon), [(unit, sign, first, last)]
            for a, b, s in ((first, start, -sign), (start, first, sign), (end, last, -sign), (last, end, sign)):
                if a < b:
                    more_cost, more = _cover(a, b, units[1:], s, horizon)
                    cost += more_cost
                    segments += more
            if cost < best[0]:
                best = (cost, tuple(segments))
    return best


@dataclass(frozen=True)
class Cover:
    """A day-aligned range as signed runs of a rollup's year, quarter, month and day rows (``_cover``). Groups by
    month or quarter read only periods that lie within one of their groups: months and days, or quarters too."""

    segments: tuple[Segment, ...]

    @classmethod
    def of(cls, r: Range, group_by: str = "", horizon: date | None = None) -> Cover:
        """``horizon``: the first day expected to hold no rows, by default tomorrow (UTC)."""
        units = {"month": ("month", "day"), "quarter": ("quarter", "month", "day")}.get(
            group_by, ("year", "quarter", "month", "day")
        )
        horizon = horizon or utcnow().date() + timedelta(days=1)
        return cls(_cover(r.start.date(), r.end.date(), units, 1, horizon)[1])

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, (_unit, _sign, first, end) in enumerate(self.segments):
            out[f"c{i}a"], out[f"c{i}b"] = first, end
        return out


# The rollup each grouping reads on PostgreSQL, and how it names the group there.
_ROLLUP_OF = {
    "contributor": "report_rollup_contributor",
    "function": "report_rollup_contributor",
    "team": "report_rollup_contributor",
    "account": "report_rollup_account",
    "source": "report_rollup_source_kind",
    "kind": "report_rollup_source_kind",
    "month": "report_rollup_source_kind",
    "quarter": "report_rollup_source_kind",
}
# Contributor and account keys are selected as text (loaded faster than uuid, hashed in C) but grouped as uuid.
_NAMES_OF = {"contributor": "contributors", "account": "accounts"}
_DURATION_KEY_OF = {"contributor": "CAST(contributor_id AS text)", "account": "CAST(account_id AS text)"}
_GROUP_OF = {
    "contributor": "u.contributor_id",
    "function": "c.function",
    "team": "COALESCE(c.team, '')",
    "account": f"NULLIF(u.account_id, CAST('{rollups.NIL_UUID}' AS uuid))",
    "source": "u.source_system",
    "kind": "u.kind",
    "month": "u.month",
    "quarter": "CAST(date_trunc('quarter', u.month) AS date)",
}
_DURATION_GROUP_OF = {
    "contributor": "contributor_id",
    "function": "function",
    "team": "team",
    "account": "account_id",
    "source": "source_system",
    "kind": "kind",
    "month": "month",
    "quarter": "CAST(date_trunc('quarter', month) AS date)",
}
_MODEL_MEASURES = {"originator": "orig", "equal": "eq", "time_weighted": "tw"}


def day_text(value: Any) -> str:
    """A period start (datetime from PostgreSQL, text from SQLite) as 'YYYY-MM-DD'."""
    return value.strftime("%Y-%m-%d") if isinstance(value, datetime) else str(value)[:10]


def _binds(text: str, **types: Any) -> sa.TextClause:
    return sa.text(text).bindparams(*(sa.bindparam(name, type_=t) for name, t in types.items()))


class ReportRepo:
    # Off only in tests, which compare the summaries with the detail queries on PostgreSQL.
    use_summaries = True

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pg = session.get_bind().dialect.name == "postgresql"
        self.summaries = self.pg and self.use_summaries
        # Contributor and account names by id (text) that labelled summary queries brought along.
        self.labels: dict[str, str | None] = {}
        if self.pg:
            # Reports scan and sort hundreds of thousands of rows: JIT compilation costs more than it saves at
            # this size, and the default 4 MB work_mem spills the sorts behind medians to disk.
            session.execute(sa.text("SET LOCAL jit = off"))
            session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
            # The summaries are small and hot: random reads cost about what sequential ones do, and with the default
            # 4.0 the planner sorts rather than reading medians in index order.
            session.execute(sa.text("SET LOCAL random_page_cost = 1.1"))
            # psycopg prepares a statement after a few runs, and PostgreSQL may then switch to a generic plan that
            # does not know the range: planning these few statements costs far less than a wrong plan.
            session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))

    # -- dialect spelling ---------------------------------------------------------------------------------------
    def period(self, column: str, unit: str) -> str:
        """The UTC start of ``unit`` (week, month, quarter) containing ``column``: a timestamp on PostgreSQL (cheaper
        to group by than text), 'YYYY-MM-DD' text on SQLite; ``day_text`` makes either one text."""
        if self.pg:
            return f"date_trunc('{unit}', {column} AT TIME ZONE 'UTC')"
        if unit == "week":
            return f"date({column}, 'weekday 0', '-6 days')"
        if unit == "month":
            return f"strftime('%Y-%m-01', {column})"
        return (
            f"(strftime('%Y', {column}) || '-' || "
            f"printf('%02d', ((CAST(strftime('%m', {column}) AS INTEGER) - 1) / 3) * 3 + 1) || '-01')"
        )

    def period_start(self, column: str) -> str:
        return f"({column} AT TIME ZONE 'UTC')" if self.pg else column

    def seconds(self, later: str, earlier: str) -> str:
        if self.pg:
            return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
        return f"((julianday({later}) - julianday({earlier})) * 86400.0)"

    def dim(self, group_by: str, table: str, date_column: str) -> str:
        if group_by == "contributor":
            return f"{table}.contributor_id"
        if group_by == "account":
            return f"{table}.account_id"
        if group_by == "function":
            return "c.function"
        if group_by == "team":
            return "COALESCE(c.team, '')"
        if group_by == "source":
            return f"{table}.source_system"
        if group_by == "kind":
            return f"{table}.kind"
        return self.period(f"{table}.{date_column}", group_by)

    @staticmethod
    def _join_people(group_by: str, table: str) -> str:
        return f"JOIN contributors c ON c.id = {table}.contributor_id" if group_by in PERSON_DIMS else ""

    def _run(self, stmt: sa.Executable, params: dict[str, Any]) -> Sequence[sa.Row[Any]]:
        return self.session.execute(stmt, params).all()

    # -- PostgreSQL: rollups plus detail at the ends ---------------------------------------------------------------
    @staticmethod
    def _summed(group_by: str, axis: str, select: str, cover: Cover, where: str = "", labelled: bool = False) -> str:
        """``select`` over the rollup rows of ``cover`` (bound by ``_pg_run``), grouped by ``group_by``; when
        ``labelled``, contributor and account groups get the name as a last column."""
        table = _ROLLUP_OF[group_by]
        keys = rollups.ROLLUPS[table]
        used = set(re.findall(r"\bu\.(\w+)", select)) | {"n"}
        measures = [m for m in _MEASURES if m in used]
        people = "JOIN contributors c ON c.id = u.contributor_id" if group_by in PERSON_DIMS else ""
        # Only signals lack an account: facts group by the column itself, which the planner can estimate.
        key = "u.account_id" if group_by == "account" and axis != "s" else _GROUP_OF[group_by]
        parts = []
        for i, (unit, sign, _first, _end) in enumerate(cover.segments):
            # For month and quarter groups, a day row counts in its own month (``Cover`` gives them no year rows).
            month = "CAST(date_trunc('month', month) AS date)" if unit == "day" else "month"
            values = ", ".join(m if sign > 0 else f"-{m}" for m in measures)
            parts.append(
                f"SELECT {month} AS month, {', '.join(keys)}, currency, {values} FROM {table} "
                f"WHERE axis = '{axis}{_SUFFIX[unit]}' AND month >= :c{i}a AND month < :c{i}b"
            )
        rows = " UNION ALL ".join(parts) or (
            f"SELECT month, {', '.join(keys)}, currency, {', '.join(measures)} FROM {table} WHERE FALSE"
        )
        # Every row counts at least one detail row: a group is in the range if its count there is not zero (with
        # subtracted periods, a group can have rows whose sum is zero).
        having = "HAVING report_sum(u.n) <> 0" if any(sign < 0 for _u, sign, _f, _e in cover.segments) else ""
        inner = f"SELECT {key} AS gid, {select} FROM ({rows}) u {people} {where} GROUP BY {key} {having}"
        # Sums are report_sum (migration 0017), which stays bigint: SUM(bigint) is numeric, and building one per
        # group and loading it as Decimal cost more than the aggregation (20k account groups).
        sums = ", ".join(f"g.{a}" for a in re.findall(r"\bAS (\w+)", select))
        if labelled and group_by in _NAMES_OF:
            return (
                f"SELECT CAST(g.gid AS text) AS k, {sums}, nm.name FROM ({inner}) g "
                f"LEFT JOIN {_NAMES_OF[group_by]} nm ON nm.id = g.gid"
            )
        shown = "CAST(g.gid AS text)" if group_by in _NAMES_OF else "g.gid"
        return f"SELECT {shown} AS k, {sums} FROM ({inner}) g"

    def _pg_run(self, sql: str, bounds: Split | Cover, labelled: bool = False, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of a ``_summed`` or ``_pg_active`` query; a labelled query's names go to ``labels`` and leave the
        rows."""
        dates = {n: v for n, v in bounds.params().items() if re.search(rf":{n}\b", sql)}
        # Run on the DB-API cursor of the session's own connection (same transaction and settings), with psycopg's
        # placeholders (these statements hold no other colons or percent signs): SQLAlchemy's row objects cost as
        # much as the aggregation behind them for the 20k groups of a report by account.
        raw = self.session.connection().connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.execute(re.sub(r":(\w+)\b", r"%(\1)s", sql), {**dates, **params})
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        if not labelled:
            return rows
        for row in rows:
            self.labels[row[0]] = row[-1]
        return [row[:-1] for row in rows]

    def _pg_signal_counts(self, group_by: str, r: Range) -> dict[Any, int]:
        named = group_by in _NAMES_OF
        cover = Cover.of(r, group_by)
        sql = self._summed(group_by, "s", "report_sum(u.n) AS n", cover, labelled=named)
        return {k: int(n) for k, n in self._pg_run(sql, cover, named)}

    def _pg_contribution_facts(self, group_by: str, r: Range, currency: str) -> dict[Any, dict[str, Any]]:
        cover = Cover.of(r, group_by)
        sql = self._summed(
            group_by,
            "o",
            "report_sum(u.originated) AS originated, report_sum(u.n) - report_sum(u.originated) AS co, "
            "report_sum(CASE WHEN u.currency = :cur THEN u.open_c ELSE 0 END) AS open_c, "
            "report_sum(CASE WHEN u.currency = :cur THEN u.won_c ELSE 0 END) AS won_c, "
            "report_sum(u.won) AS won, report_sum(u.lost) AS lost",
            cover,
            labelled=group_by in _NAMES_OF,
        )
        out: dict[Any, dict[str, Any]] = {}
        rows = self._pg_run(sql, cover, group_by in _NAMES_OF, cur=currency)
        for k, originated, co, open_c, won_c, won, lost in rows:
            out[k] = {
                "originated": int(originated),
                "co": int(co),
                "open_c": int(open_c),
                "won_c": int(won_c),
                "won": int(won),
                "lost": int(lost),
                "crm_s": None,
                "stage_s": None,
            }
        for metric, name in ((1, "crm_s"), (2, "stage_s")):
            key = _DURATION_GROUP_OF[group_by]
            # For months, the month bounds add nothing but let the month index start at the range.
            months = " AND month >= :mf AND month <= :ml" if group_by in ("month", "quarter") else ""
            stmt = _binds(
                f"SELECT {_DURATION_KEY_OF.get(group_by, key)} AS k, "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS m "
                f"FROM report_durations WHERE metric = {metric} AND observed_at >= :f AND observed_at < :t{months} "
                f"GROUP BY {key}",
                f=UTCDateTime(),
                t=UTCDateTime(),
            )
            if months:
                stmt = stmt.bindparams(sa.bindparam("mf", type_=sa.Date()), sa.bindparam("ml", type_=sa.Date()))
            params = {"f": r.start, "t": r.end, "mf": r.start.date().replace(day=1), "ml": r.end.date()}
            for k, median in (tuple(row) for row in self._run(stmt, params)):
                if k in out and median is not None:
                    out[k][name] = float(median)
        return out

    def _pg_credit_shares(
        self, group_by: str, r: Range, currency: str, model: str, only: Sequence[uuid.UUID] | None
    ) -> dict[Any, dict[str, int]]:
        m = _MODEL_MEASURES[model]
        where = ""
        params: dict[str, Any] = {"cur": currency}
        if only is not None:
            where = "WHERE u.contributor_id = ANY(CAST(:only AS uuid[]))"
            params["only"] = [str(i) for i in only]
        cover = Cover.of(r, group_by)
        sql = self._summed(
            group_by,
            "f",
            "report_sum(u.n) AS credits, report_sum(u.originated) AS originated, "
            f"report_sum(CASE WHEN u.currency = :cur THEN u.{m}_open ELSE 0 END) AS open_c, "
            f"report_sum(CASE WHEN u.currency = :cur THEN u.{m}_won ELSE 0 END) AS won_c",
            cover,
            where=where,
            labelled=group_by in _NAMES_OF,
        )
        return {
            k: {"credits": int(credits), "originated": int(originated), "open_c": int(open_c), "won_c": int(won_c)}
            for k, credits, originated, open_c, won_c in self._pg_run(sql, cover, group_by in _NAMES_OF, **params)
        }

    def _pg_active(self, unit: str, split: Split) -> str:
        """Distinct (period, contributor) pairs with a signal in the range, per whole or partial period."""
        axis = "s" if unit == "month" else "sw"
        period = f"CAST(date_trunc('{unit}', month) AS date)"
        return (
            f"SELECT month AS p, contributor_id FROM report_rollup_contributor "
            f"WHERE axis = '{axis}' AND month >= :wf AND month < :wt "
            f"UNION ALL SELECT DISTINCT {period}, contributor_id FROM report_rollup_contributor "
            "WHERE axis = 'sd' AND month >= :h1 AND month < :h2 "
            f"UNION ALL SELECT DISTINCT {period}, contributor_id FROM report_rollup_contributor "
            "WHERE axis = 'sd' AND month >= :t1 AND month < :t2"
        )

    def _pg_participation(self, by: str, unit: str, r: Range) -> list[tuple[str, str, int, int]]:
        group = "c.function" if by == "function" else "COALESCE(c.team, '')"
        split = Split.of(r, unit)
        sql = f"""WITH a AS ({self._pg_active(unit, split)})
            SELECT a.p AS p, {group} AS g, COUNT(*) AS active,
              SUM(CASE WHEN c.first_signal_at < (CAST(a.p AS timestamp) AT TIME ZONE 'UTC') THEN 1 ELSE 0 END)
                AS repeat_n
            FROM a JOIN contributors c ON c.id = a.contributor_id
            GROUP BY a.p, {group}
            ORDER BY a.p, {group}"""
        return [
            (day_text(p), str(g), int(active), int(repeat or 0)) for p, g, active, repeat in self._pg_run(sql, split)
        ]

    # -- reports ------------------------------------------------------------------------------------------------
    def signal_counts(self, group_by: str, r: Range) -> dict[Any, int]:
        if self.summaries:
            return self._pg_signal_counts(group_by, r)
        key = self.dim(group_by, "s", "observed_at")
        stmt = _binds(
            f"SELECT {key} AS k, COUNT(*) AS n FROM signals s {self._join_people(group_by, 's')} "
            f"WHERE s.observed_at >= :f AND s.observed_at < :t GROUP BY {key}",
            f=UTCDateTime(),
            t=UTCDateTime(),
        )
        return {row.k: int(row.n) for row in self._run(stmt, {"f": r.start, "t": r.end})}

    def contribution_facts(self, group_by: str, r: Range, currency: str) -> dict[Any, dict[str, Any]]:
        """Per group: originated and co-contributed counts, originated open and won cents, won/lost, medians."""
        if self.summaries:
            return self._pg_contribution_facts(group_by, r, currency)
        key = self.dim(group_by, "f", "observed_at")
        to_crm = self.seconds("f.first_synced_at", "f.opp_first_seen_at")
        to_stage = self.seconds("f.first_stage_changed_at", "f.opp_first_seen_at")
        stmt = _binds(
            f"""SELECT {key} AS k,
              SUM(CASE WHEN f.rank = 1 THEN 1 ELSE 0 END) AS originated,
              SUM(CASE WHEN f.rank > 1 THEN 1 ELSE 0 END) AS co,
              SUM(CASE WHEN f.rank = 1 AND f.status = 'open' AND f.currency = :cur THEN f.value_cents ELSE 0 END)
                AS open_c,
              SUM(CASE WHEN f.rank = 1 AND f.status = 'won' AND f.currency = :cur THEN f.value_cents ELSE 0 END)
                AS won_c,
              SUM(CASE WHEN f.rank = 1 AND f.status = 'won' THEN 1 ELSE 0 END) AS won,
              SUM(CASE WHEN f.rank = 1 AND f.status = 'lost' THEN 1 ELSE 0 END) AS lost
            FROM report_credit_facts f {self._join_people(group_by, "f")}
            WHERE f.observed_at >= :f AND f.observed_at < :t
            GROUP BY {key}""",
            f=UTCDateTime(),
            t=UTCDateTime(),
        )
        out: dict[Any, dict[str, Any]] = {}
        for row in self._run(stmt, {"f": r.start, "t": r.end, "cur": currency}):
            m = row._mapping
            out[row.k] = {
                "originated": int(m["originated"] or 0),
                "co": int(m["co"] or 0),
                "open_c": int(m["open_c"] or 0),
                "won_c": int(m["won_c"] or 0),
                "won": int(m["won"] or 0),
                "lost": int(m["lost"] or 0),
                "crm_s": None,
                "stage_s": None,
            }
        if self.pg:
            self._pg_medians(group_by, r, out, to_crm, "first_synced_at", "crm_s")
            self._pg_medians(group_by, r, out, to_stage, "first_stage_changed_at", "stage_s")
        else:
            self._sqlite_medians(group_by, r, out, to_crm, to_stage)
        return out

    def _pg_medians(
        self, group_by: str, r: Range, out: dict[Any, dict[str, Any]], seconds: str, column: str, name: str
    ) -> None:
        key = self.dim(group_by, "f", "observed_at")
        stmt = _binds(
            f"SELECT {key} AS k, percentile_cont(0.5) WITHIN GROUP (ORDER BY {seconds}) AS m "
            f"FROM report_credit_facts f {self._join_people(group_by, 'f')} "
            f"WHERE f.rank = 1 AND f.{column} IS NOT NULL AND f.observed_at >= :f AND f.observed_at < :t "
            f"GROUP BY {key}",
            f=UTCDateTime(),
            t=UTCDateTime(),
        )
        for row in self._run(stmt, {"f": r.start, "t": r.end}):
            if row.k in out and row.m is not None:
                out[row.k][name] = float(row.m)

    def _sqlite_medians(
        self, group_by: str, r: Range, out: dict[Any, dict[str, Any]], to_crm: str, to_stage: str
    ) -> None:
        key = self.dim(group_by, "f", "observed_at")
        stmt = _binds(
            f"SELECT {key} AS k, {to_crm} AS crm_s, {to_stage} AS stage_s "
            f"FROM report_credit_facts f {self._join_people(group_by, 'f')} "
            "WHERE f.rank = 1 AND f.observed_at >= :f AND f.observed_at < :t",
            f=UTCDateTime(),
            t=UTCDateTime(),
        )
        crm: dict[Any, list[float]] = defaultdict(list)
        stage: dict[Any, list[float]] = defaultdict(list)
        for row in self._run(stmt, {"f": r.start, "t": r.end}):
            if row.crm_s is not None:
                crm[row.k].append(float(row.crm_s))
            if row.stage_s is not None:
                stage[row.k].append(float(row.stage_s))
        for k, values in out.items():
            values["crm_s"] = statistics.median(crm[k]) if crm.get(k) else None
            values["stage_s"] = statistics.median(stage[k]) if stage.get(k) else None

    def credit_shares(
        self, group_by: str, r: Range, currency: str, model: str, only: Sequence[uuid.UUID] | None = None
    ) -> dict[Any, dict[str, int]]:
        """Per group: credits, originated, and the model's credited cents of open and won opportunities; with
        ``only``, counting only those contributors' credits.

        Opportunities are selected by when they were first seen, so every credit of one is in or out together.
        Every credited contributor counts, whatever the opportunity's currency (or none); only the amounts are
        limited to ``currency``.
        """
        if self.summaries:
            return self._pg_credit_shares(group_by, r, currency, model, only)
        share = "f." + CREDIT_COLUMNS[model]
        key = self.dim(group_by, "f", "opp_first_seen_at")
        people = " AND f.contributor_id IN :only" if only is not None else ""
        stmt = _binds(
            f"""SELECT {key} AS k, COUNT(*) AS credits,
              SUM(CASE WHEN f.rank = 1 THEN 1 ELSE 0 END) AS originated,
              SUM(CASE WHEN f.status = 'open' AND f.currency = :cur THEN {share} ELSE 0 END) AS open_c,
              SUM(CASE WHEN f.status = 'won' AND f.currency = :cur THEN {share} ELSE 0 END) AS won_c
            FROM report_credit_facts f {self._join_people(group_by, "f")}
            WHERE f.opp_first_seen_at >= :f AND f.opp_first_seen_at < :t{people}
            GROUP BY {key}""",
            f=UTCDateTime(),
            t=UTCDateTime(),
        )
        params: dict[str, Any] = {"f": r.start, "t": r.end, "cur": currency}
        if only is not None:
            stmt = stmt.bindparams(sa.bindparam("only", expanding=True, type_=sa.Uuid()))
            params["only"] = list(only) or [uuid.UUID(int=0)]
        return {
            row.k: {
                "credits": int(row.credits),
                "originated": int(row.originated or 0),
                "open_c": int(row.open_c or 0),
                "won_c": int(row.won_c or 0),
            }
            for row in self._run(stmt, params)
        }

    def participation(self, by: str, unit: str, r: Range) -> list[tuple[str, str, int, int]]:
        """(period start, function or team, active contributors, of whom reported before that period)."""
        if self.summaries:
            return self._pg_participation(by, unit, r)
        period = self.period("s.observed_at", unit)
        group = "c.function" if by == "function" else "COALESCE(c.team, '')"
        stmt = _binds(
            f"""WITH a AS (
              SELECT DISTINCT {period} AS p, s.contributor_id FROM signals s
              WHERE s.observed_at >= :f AND s.observed_at < :t
            )
            SELECT a.p AS p, {group} AS g, COUNT(*) AS active,
              SUM(CASE WHEN c.first_signal_at < {self.period_start("a.p")} THEN 1 ELSE 0 END) AS repeat_n
            FROM a JOIN contributors c ON c.id = a.contributor_id
            GROUP BY a.p, {group}
            ORDER BY a.p, {group}""",
            f=UTCDateTime(),
            t=UTCDateTime(),
        )
        return [
            (day_text(row.p), str(row.g), int(row.active), int(row.repeat_n or 0))
            for row in self._run(stmt, {"f": r.start, "t": r.end})
        ]

    def distinct_contributors(self, r: Range) -> int:
        if self.summaries:
            split = Split.of(r)
            sql = f"SELECT COUNT(DISTINCT contributor_id) FROM ({self._pg_active('month', split)}) a"
            return int(self._pg_run(sql, split)[0][0] or 0)
        stmt = _binds(
            "SELECT COUNT(DISTINCT contributor_id) FROM signals WHERE observed_at >= :f AND observed_at < :t",
            f=UTCDateTime(),
            t=UTCDateTime(),
        )
        return int(self.session.execute(stmt, {"f": r.start, "t": r.end}).scalar_one() or 0)

    def originated_by_sales(self, r: Range, currency: str, sales: Sequence[str]) -> tuple[int, int]:
        """(originated cents, of which originated by non-sales functions)."""
        if self.summaries:
            cover = Cover.of(r)
            sql = self._summed("function", "f", "report_sum(u.orig_value) AS v", cover, where="WHERE u.currency = :cur")
            by_function = {k: int(v or 0) for k, v in self._pg_run(sql, cover, cur=currency)}
            total = sum(by_function.values())
            return total, total - sum(v for k, v in by_function.items() if k in set(sales))
        stmt = _binds(
            """SELECT SUM(f.value_cents) AS total,
              SUM(CASE WHEN c.function IN :sales THEN 0 ELSE f.value_cents END) AS non_sales
            FROM report_credit_facts f JOIN contributors c ON c.id = f.contributor_id
            WHERE f.rank = 1 AND f.currency = :cur AND f.opp_first_seen_at >= :f AND f.opp_first_seen_at < :t""",
            f=UTCDateTime(),
            t=UTCDateTime(),
        ).bindparams(sa.bindparam("sales", expanding=True))
        row = self.session.execute(
            stmt, {"f": r.start, "t": r.end, "cur": currency, "sales": list(sales) or [""]}
        ).one()
        return int(row.total or 0), int(row.non_sales or 0)

    def top_accounts(self, r: Range, currency: str, model: str, limit: int) -> list[str]:
        """The ``limit`` accounts (ids as text) with the most of the model's open plus won cents in ``currency``, most
        first, ties by id (PostgreSQL, from the rollups): ordered and cut in SQL, so that the thousands of accounts
        that do not make the list never reach Python."""
        m = _MODEL_MEASURES[model]
        cover = Cover.of(r)
        sql = self._summed(
            "account",
            "f",
            f"report_sum(CASE WHEN u.currency = :cur THEN u.{m}_open + u.{m}_won ELSE 0 END) AS total",
            cover,
        )
        # Text ids sort as the uuids do (lower-case hex, fixed width).
        ranked = f"SELECT t.k, t.total FROM ({sql}) t ORDER BY t.total DESC, t.k LIMIT :n"
        return [str(k) for k, _total in self._pg_run(ranked, cover, cur=currency, n=limit)]

    def concentration(
        self, r: Range, currency: str, model: str, accounts: Sequence[Any] | None = None
    ) -> Sequence[sa.Row[Any]]:
        """Per account (all, or only ``accounts`` on PostgreSQL): distinct contributors, open and won cents, and its
        top contributor with their cents."""
        share = "f." + CREDIT_COLUMNS[model]
        if self.summaries:
            only = "AND f.account_id = ANY(CAST(:accounts AS uuid[]))" if accounts is not None else ""
            # Groups come out of the (account, contributor) index in order: no sort. The top contributor is the
            # first (lowest id) of those with the largest value, a NULL value counting as largest, as in the ranking
            # ORDER BY ... DESC: partition-only windows over rows already in (account, contributor) order need no
            # sort. Sums are report_sum, which stays bigint: SUM's numeric per (account, contributor) group and window
            # row, ~154k of each for the top 1,000 accounts of the 1M-signal seed, cost a fifth of the statement.
            stmt = _binds(
                f"""WITH per AS (
                  SELECT f.account_id, f.contributor_id,
                    report_sum(CASE WHEN f.currency = :cur AND f.status = 'open' THEN {share} ELSE 0 END) AS open_c,
                    report_sum(CASE WHEN f.currency = :cur AND f.status = 'won' THEN {share} ELSE 0 END) AS won_c
                  FROM report_credit_facts f
                  WHERE f.opp_first_seen_at >= :f AND f.opp_first_seen_at < :t {only}
                  GROUP BY f.account_id, f.contributor_id
                ), w AS (
                  SELECT account_id, contributor_id, open_c + won_c AS tot, COUNT(*) OVER a AS n,
                    report_sum(open_c) OVER a AS acc_open, report_sum(won_c) OVER a AS acc_won,
                    MAX(open_c + won_c) OVER a AS top, bool_or(open_c + won_c IS NULL) OVER a AS has_null
                  FROM per WINDOW a AS (PARTITION BY account_id)
                )
                SELECT DISTINCT ON (account_id) account_id, n, acc_open, acc_won, contributor_id AS top_id,
                  tot AS top_c
                FROM w WHERE (has_null AND tot IS NULL) OR (NOT has_null AND tot = top)
                ORDER BY account_id, contributor_id""",
                f=UTCDateTime(),
                t=UTCDateTime(),
            )
            if accounts is not None:
                stmt = stmt.bindparams(sa.bindparam("accounts", type_=postgresql.ARRAY(sa.String())))
            return self._run(stmt, {"f": r.start, "t": r.end, "cur": currency, "accounts": list(accounts or [])})
        stmt = _binds(
            f"""WITH per AS (
              SELECT f.account_id, f.contributor_id,
                SUM(CASE WHEN f.currency = :cur AND f.status = 'open' THEN {share} ELSE 0 END) AS open_c,
                SUM(CASE WHEN f.currency = :cur AND f.status = 'won' THEN {share} ELSE 0 END) AS won_c
              FROM report_credit_facts f
              WHERE f.opp_first_seen_at >= :f AND f.opp_first_seen_at < :t
              GROUP BY f.account_id, f.contributor_id
            ), ranked AS (
              SELECT per.*,
                ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY open_c + won_c DESC, contributor_id) AS r,
                COUNT(*) OVER (PARTITION BY account_id) AS n,
                SUM(open_c) OVER (PARTITION BY account_id) AS acc_open,
                SUM(won_c) OVER (PARTITION BY account_id) AS acc_won
              FROM per
            )
            SELECT account_id, n, acc_open, acc_won, contributor_id AS top_id, open_c + won_c AS top_c
            FROM ranked WHERE r = 1""",
            f=UTCDateTime(),
            t=UTCDateTime(),
        )
        return self._run(stmt, {"f": r.start, "t": r.end, "cur": currency})

    def ageing(self, r: Range, cutoff: datetime, now: datetime) -> Sequence[Any]:
        """Open opportunities with no stage change whose clock (first sync, else first signal) started before cutoff,
        or whose routed response time passed without a reaction (``overdue`` counts the latter); ``waiting_s`` is the
        oldest one's wait in seconds (computed in SQL: converting thousands of timestamps costs more)."""
        since = "COALESCE(f.first_synced_at, f.opp_first_seen_at)"
        reaction = first_reaction_sql("postgresql" if self.pg else "sqlite")
        unanswered = (
            "(rt.due_at <= :now AND rt.reacted_at IS NULL AND (SELECT "
            f"{reaction} FROM opportunities o LEFT JOIN opportunity_milestones m ON m.opportunity_id = o.id "
            "WHERE o.id = rt.opportunity_id) IS NULL)"
        )
        stmt = _binds(
            f"""SELECT a.owner AS owner, c.team AS team, COUNT(*) AS opportunities,
                  SUM(f.opp_signal_count) AS signals, {self.seconds(":now", f"MIN({since})")} AS waiting_s,
                  SUM(CASE WHEN {unanswered} THEN 1 ELSE 0 END) AS overdue
                FROM report_credit_facts f
                JOIN accounts a ON a.id = f.account_id
                JOIN contributors c ON c.id = f.contributor_id
                LEFT JOIN opportunity_routes rt ON rt.opportunity_id = f.opportunity_id
                WHERE f.rank = 1 AND f.status = 'open' AND f.first_stage_changed_at IS NULL
                  AND ({since} < :cutoff OR rt.due_at <= :now)
                  AND f.opp_first_seen_at >= :f AND f.opp_first_seen_at < :t
                GROUP BY a.owner, c.team""",
            f=UTCDateTime(),
            t=UTCDateTime(),
            cutoff=UTCDateTime(),
            now=UTCDateTime(),
        ).columns(
            sa.column("owner"),
            sa.column("team"),
            sa.column("opportunities"),
            sa.column("signals"),
            sa.column("waiting_s", sa.Float()),
            sa.column("overdue"),
        )
        return self._run(stmt, {"f": r.start, "t": r.end, "cutoff": cutoff, "now": now})

    # -- labels and staff ---------------------------------------------------------------------------------------
    def contributor_names(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str | None]:
        wanted = set(ids)
        if not wanted:
            return {}
        if self.pg:
            return dict(self._by_ids("contributors", "name", wanted))
        rows = self.session.exec(select(Contributor.id, Contributor.name).where(col(Contributor.id).in_(wanted)))
        return {i: n for i, n in rows}

    def contributor_groups(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str | None]]:
        """(function, team) of each contributor."""
        wanted = set(ids)
        if not wanted:
            return {}
        stmt = select(Contributor.id, Contributor.function, Contributor.team).where(col(Contributor.id).in_(wanted))
        return {i: (f, t) for i, f, t in self.session.exec(stmt)}

    def names_by_text_id(self, table: str, ids: Iterable[str]) -> dict[str, str | None]:
        """Names of contributors or accounts by id as text (PostgreSQL: report keys come as text, cheaper to load)."""
        stmt = sa.text(f"SELECT CAST(id AS text), name FROM {table} WHERE id = ANY(CAST(:ids AS uuid[]))").bindparams(
            sa.bindparam("ids", type_=postgresql.ARRAY(sa.String()))
        )
        return {row[0]: row[1] for row in self.session.execute(stmt, {"ids": list(ids)})}

    def _by_ids(self, table: str, column: str, ids: set[uuid.UUID]) -> list[tuple[uuid.UUID, Any]]:
        """One array parameter instead of thousands of bound values."""
        stmt = sa.text(f"SELECT id, {column} FROM {table} WHERE id = ANY(:ids)").bindparams(
            sa.bindparam("ids", type_=postgresql.ARRAY(sa.Uuid()))
        )
        return [(row[0], row[1]) for row in self.session.execute(stmt, {"ids": list(ids)})]

    def account_names(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        wanted = set(ids)
        if not wanted:
            return {}
        if self.pg:
            return dict(self._by_ids("accounts", "name", wanted))
        rows = self.session.exec(select(Account.id, Account.name).where(col(Account.id).in_(wanted)))
        return {i: n for i, n in rows}

    def staff(self, dimension: str) -> dict[str, int]:
        rows = self.session.exec(select(StaffCount).where(StaffCount.dimension == dimension))
        return {s.name: s.staff for s in rows}

    def replace_staff(self, dimension: str, counts: dict[str, int]) -> None:
        table = StaffCount.__table__  # type: ignore[attr-defined]
        self.session.execute(sa.delete(table).where(table.c.dimension == dimension))
        for name, staff in counts.items():
            self.session.add(StaffCount(dimension=dimension, name=name, staff=staff))
        self.session.flush()

    # -- recognition statements and adoption ----------------------------------------------------------------------
    def statement_lines(self, contributor_id: uuid.UUID, r: Range, limit: int) -> Sequence[sa.Row[Any]]:
        """The contributor's credits on opportunities first seen in the range (the credit report's selection), with
        what became of each, newest first."""
        stmt = _binds(
            """SELECT f.opportunity_id AS opportunity_id, o.title AS title, a.name AS account, f.role AS role,
                  f.observed_at AS first_observed_at, f.status AS status, o.stage AS stage, f.currency AS currency,
                  f.value_cents AS value_cents, f.originator_cents AS originator_cents,
                  f.equal_cents AS equal_cents, f.time_weighted_cents AS time_weighted_cents,
                  o.note AS note, o.crm_url AS crm_url
                FROM report_credit_facts f
                JOIN opportunities o ON o.id = f.opportunity_id
                JOIN accounts a ON a.id = f.account_id
                WHERE f.contributor_id = :cid AND f.opp_first_seen_at >= :f AND f.opp_first_seen_at < :t
                ORDER BY f.opp_first_seen_at DESC, f.opportunity_id LIMIT :n""",
            cid=sa.Uuid(),
            f=UTCDateTime(),
            t=UTCDateTime(),
        ).columns(opportunity_id=sa.Uuid(), first_observed_at=UTCDateTime())  # by name: the others keep their types
        return self._run(stmt, {"cid": contributor_id, "f": r.start, "t": r.end, "n": limit})

    def statement_signals(self, contributor_id: uuid.UUID, r: Range, limit: int) -> Sequence[sa.Row[Any]]:
        stmt = _binds(
            """SELECT s.id AS id, s.observed_at AS observed_at, s.kind AS kind, s.title AS title,
                  a.name AS account, s.opportunity_id AS opportunity_id, s.status AS status
                FROM signals s LEFT JOIN accounts a ON a.id = s.account_id
                WHERE s.contributor_id = :cid AND s.observed_at >= :f AND s.observed_at < :t
                ORDER BY s.observed_at DESC, s.id LIMIT :n""",
            cid=sa.Uuid(),
            f=UTCDateTime(),
            t=UTCDateTime(),
        ).columns(id=sa.Uuid(), observed_at=UTCDateTime(), opportunity_id=sa.Uuid())
        return self._run(stmt, {"cid": contributor_id, "f": r.start, "t": r.end, "n": limit})

    def people(self, team: str | None = None) -> dict[str, tuple[str | None, str]]:
        """(name, function) of every contributor, or of one team's, by id as text."""
        stmt = sa.select(Contributor.id, Contributor.name, Contributor.function)  # type: ignore[call-overload]
        if team is not None:
            stmt = stmt.where(Contributor.team == team)
        return {str(i): (name, function) for i, name, function in self.session.execute(stmt)}

    def active_by_function(self, r: Range) -> dict[str, int]:
        """Distinct contributors with a signal in the range, per function."""
        if self.summaries:
            split = Split.of(r)
            sql = (
                f"SELECT c.function, COUNT(DISTINCT a.contributor_id) FROM ({self._pg_active('month', split)}) a "
                "JOIN contributors c ON c.id = a.contributor_id GROUP BY c.function"
            )
            return {str(k): int(n) for k, n in self._pg_run(sql, split)}
        stmt = _binds(
            "SELECT c.function AS k, COUNT(DISTINCT s.contributor_id) AS n FROM signals s "
            "JOIN contributors c ON c.id = s.contributor_id "
            "WHERE s.observed_at >= :f AND s.observed_at < :t GROUP BY c.function",
            f=UTCDateTime(),
            t=UTCDateTime(),
        )
        return {str(row.k): int(row.n) for row in self._run(stmt, {"f": r.start, "t": r.end})}

    def repeat_contributors(self, r: Range) -> tuple[int, int]:
        """Contributors with a signal in the range, and how many of them reported in two or more distinct weeks:
        those whose first and last week differ (no distinct count per contributor, which sorts every pair)."""
        if self.summaries:
            split = Split.of(r, "week")
            sql = (
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN x.first < x.last THEN 1 ELSE 0 END), 0) FROM ("
                f"SELECT MIN(a.p) AS first, MAX(a.p) AS last FROM ({self._pg_active('week', split)}) a "
                "GROUP BY a.contributor_id) x"
            )
            contributors, repeaters = self._pg_run(sql, split)[0]
            return int(contributors), int(repeaters)
        week = self.period("s.observed_at", "week")
        stmt = _binds(
            f"SELECT MIN({week}) AS first, MAX({week}) AS last FROM signals s "
            "WHERE s.observed_at >= :f AND s.observed_at < :t GROUP BY s.contributor_id",
            f=UTCDateTime(),
            t=UTCDateTime(),
        )
        rows = self._run(stmt, {"f": r.start, "t": r.end})
        return len(rows), sum(1 for row in rows if row.first != row.last)

    def reactions(self, r: Range) -> tuple[int, int, float | None]:
        """Opportunities first seen in the range (not merged away): how many, how many had a first reaction (see
        ``app.routing.reaction``), and the median seconds from the first signal to it."""
        if self.summaries:
            return self._pg_reactions(r)
        reaction = first_reaction_sql("postgresql" if self.pg else "sqlite")
        inner = f"""SELECT o.first_seen_at AS seen, {reaction} AS reacted
            FROM opportunities o LEFT JOIN opportunity_milestones m ON m.opportunity_id = o.id
            WHERE o.first_seen_at >= :f AND o.first_seen_at < :t AND o.merged_into_id IS NULL"""
        params = {"f": r.start, "t": r.end}
        if self.pg:
            stmt = _binds(
                f"""SELECT COUNT(*) AS n, COUNT(x.reacted) AS reacted,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY {self.seconds("x.reacted", "x.seen")}) AS m
                FROM ({inner}) x""",
                f=UTCDateTime(),
                t=UTCDateTime(),
            )
            row = self.session.execute(stmt, params).one()
            return int(row.n), int(row.reacted), None if row.m is None else max(float(row.m), 0.0)
        detail = _binds(inner, f=UTCDateTime(), t=UTCDateTime()).columns(
            sa.column("seen", UTCDateTime()), sa.column("reacted", UTCDateTime())
        )
        rows = self._run(detail, params)
        seconds = [max((x.reacted - x.seen).total_seconds(), 0.0) for x in rows if x.reacted is not None]
        return len(rows), len(seconds), statistics.median(seconds) if seconds else None

    def _pg_reactions(self, r: Range) -> tuple[int, int, float | None]:
        """``reactions`` from the summaries: opportunities are the originator credits by first-seen month (every
        opportunity has one), the reacted ones their metric-3 durations, read from the month index."""
        cover = Cover.of(r)
        sql = self._summed("kind", "f", "report_sum(u.originated) AS n", cover)
        opportunities = sum(int(n) for _k, n in self._pg_run(sql, cover))
        stmt = _binds(
            "SELECT COUNT(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS m FROM report_durations "
            "WHERE metric = 3 AND month >= :mf AND month <= :ml AND observed_at >= :f AND observed_at < :t",
            f=UTCDateTime(),
            t=UTCDateTime(),
            mf=sa.Date(),
            ml=sa.Date(),
        )
        params = {"f": r.start, "t": r.end, "mf": r.start.date().replace(day=1), "ml": r.end.date()}
        row = self.session.execute(stmt, params).one()
        return opportunities, int(row.n), None if row.m is None else max(float(row.m), 0.0)
