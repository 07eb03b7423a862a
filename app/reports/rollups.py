"""Report summaries on PostgreSQL, kept current by the same incremental refresh as the fact table.

- ``report_signal_facts`` mirrors the report dimensions of each signal, so that a change can be subtracted exactly.
- ``report_rollup_*`` hold yearly, quarterly, monthly and daily (and, for participation, weekly) sums per
  contributor, per account and per source and kind. They change by deltas: the detail rows a refresh deletes count -1
  and the rows it writes +1, so a refresh costs what changed, and every sum stays an exact integer.
- ``report_durations`` holds the originator's time to CRM and to first stage change, with one index per grouping
  ordered by seconds, so exact medians are read in index order instead of sorted per request.

Report ranges are whole UTC days: a sum over a range adds and subtracts the rows of a few periods (``repo.Cover``):
the 365 days to 2026-12-06 are December 2025 minus its first 6 days plus 2026 minus December 2026 plus its first 6
days, instead of 25 days, 11 months and 6 days.
SQLite has none of this: its reports read the detail tables directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from app.reports.models import _MEASURES

NIL_UUID = "00000000-0000-0000-0000-000000000000"
ROLLUPS = {
    "report_rollup_contributor": ("contributor_id",),
    "report_rollup_account": ("account_id",),
    "report_rollup_source_kind": ("source_system", "kind"),
}


def period_sql(column: str, unit: str) -> str:
    """The UTC month (or ISO week, or quarter) containing ``column``, as a date."""
    return f"CAST(date_trunc('{unit}', {column} AT TIME ZONE 'UTC') AS date)"


_OPEN = "status = 'open'"
_WON = "status = 'won'"
# Per detail row, what it adds to each measure of each axis (unlisted measures add 0).
FACT_MEASURES: dict[str, dict[str, str]] = {
    "o": {
        "n": "1",
        "originated": "CASE WHEN rank = 1 THEN 1 ELSE 0 END",
        "won": f"CASE WHEN rank = 1 AND {_WON} THEN 1 ELSE 0 END",
        "lost": "CASE WHEN rank = 1 AND status = 'lost' THEN 1 ELSE 0 END",
        "open_c": f"CASE WHEN rank = 1 AND {_OPEN} THEN COALESCE(value_cents, 0) ELSE 0 END",
        "won_c": f"CASE WHEN rank = 1 AND {_WON} THEN COALESCE(value_cents, 0) ELSE 0 END",
    },
    "f": {
        "n": "1",
        "originated": "CASE WHEN rank = 1 THEN 1 ELSE 0 END",
        "orig_open": f"CASE WHEN {_OPEN} THEN COALESCE(originator_cents, 0) ELSE 0 END",
        "orig_won": f"CASE WHEN {_WON} THEN COALESCE(originator_cents, 0) ELSE 0 END",
        "eq_open": f"CASE WHEN {_OPEN} THEN COALESCE(equal_cents, 0) ELSE 0 END",
        "eq_won": f"CASE WHEN {_WON} THEN COALESCE(equal_cents, 0) ELSE 0 END",
        "tw_open": f"CASE WHEN {_OPEN} THEN COALESCE(time_weighted_cents, 0) ELSE 0 END",
        "tw_won": f"CASE WHEN {_WON} THEN COALESCE(time_weighted_cents, 0) ELSE 0 END",
        "orig_value": "CASE WHEN rank = 1 THEN COALESCE(value_cents, 0) ELSE 0 END",
    },
}
FACT_DATES = {
    "o": ("observed_at", "month"),
    "f": ("opp_first_seen_at", "month"),
    "od": ("observed_at", "day"),
    "fd": ("opp_first_seen_at", "day"),
    "oq": ("observed_at", "quarter"),
    "fq": ("opp_first_seen_at", "quarter"),
    "oy": ("observed_at", "year"),
    "fy": ("opp_first_seen_at", "year"),
}
SIGNAL_DATES = {
    "s": ("observed_at", "month"),
    "sw": ("observed_at", "week"),
    "sd": ("observed_at", "day"),
    "sq": ("observed_at", "quarter"),
    "sy": ("observed_at", "year"),
}
FACT_AXES = ("o", "f", "od", "fd", "oq", "fq", "oy", "fy")
SIGNAL_AXES = ("s", "sw", "sd", "sq", "sy")
KEY_SQL = {
    "contributor_id": "contributor_id",
    "account_id": f"COALESCE(account_id, CAST('{NIL_UUID}' AS uuid))",
    "source_system": "source_system",
    "kind": "kind",
}
FACT_COLUMNS = (
    "observed_at, opp_first_seen_at, contributor_id, account_id, source_system, kind, currency, rank, status, "
    "value_cents, originator_cents, equal_cents, time_weighted_cents"
)
SIGNAL_COLUMNS = "observed_at, contributor_id, account_id, source_system, kind"


def detail_select(
    axis: str, keys: Sequence[str], source: str, where: str, weight: str = "1", measures: Sequence[str] = _MEASURES
) -> str:
    """Rows of ``source`` as (axis, month, keys, currency, ``measures``), each measure times ``weight``."""
    if axis in FACT_DATES:
        date, unit = FACT_DATES[axis]
        sql = FACT_MEASURES[axis[0]]
        currency = "COALESCE(currency, '')"
    else:
        date, unit = SIGNAL_DATES[axis]
        sql = {"n": "1"}
        currency = "''"
    parts = [f"'{axis}' AS axis", f"{period_sql(date, unit)} AS month"]
    parts += [f"{KEY_SQL[k]} AS {k}" for k in keys]
    parts.append(f"{currency} AS currency")
    parts += [f"{weight} * ({sql[m]}) AS {m}" if m in sql else f"0 AS {m}" for m in measures]
    return f"SELECT {', '.join(parts)} FROM {source} WHERE {where}"


def _apply(conn: Connection, axes: Sequence[str], source: str, where: str = "TRUE", weight: str = "w") -> None:
    """Add the rows of ``source`` (weighted) to every rollup, then drop rows whose count fell to zero."""
    for table, keys in ROLLUPS.items():
        selects = [
            detail_select(a, keys, source, where, weight) for a in axes if a != "sw" or keys == ("contributor_id",)
        ]
        key_list = ", ".join(["axis", "month", *keys, "currency"])
        sums = ", ".join(f"SUM({m})" for m in _MEASURES)
        updates = ", ".join(f"{m} = r.{m} + EXCLUDED.{m}" for m in _MEASURES)
        # Cells whose deltas cancel out are left alone: a rebuilt opportunity whose dimensions and amounts did not
        # change (a new signal on it, a sync, a note) subtracts and re-adds the same rows, and writing those cells
        # anyway cost an index entry and a row version each.
        changed = " OR ".join(f"SUM({m}) <> 0" for m in _MEASURES)
        conn.execute(
            sa.text(
                f"INSERT INTO {table} AS r ({key_list}, {', '.join(_MEASURES)}) "
                f"SELECT {key_list}, {sums} FROM ({' UNION ALL '.join(selects)}) d GROUP BY {key_list} "
                f"HAVING {changed} "
                # In key order, so that a full build lays each month's rows out together for range scans.
                f"ORDER BY {key_list} ON CONFLICT ({key_list}) DO UPDATE SET {updates}"
            )
        )
        conn.execute(sa.text(f"DELETE FROM {table} WHERE n = 0"))


# Metric 1: first signal to first sync; 2: to first stage change; 3: to first reaction (app.routing.reaction: a stage
# change, the close or a recorded human decision), dated by the opportunity's first signal (adoption's selection).
_DURATION_COLUMNS = (
    "opportunity_id, metric, observed_at, month, contributor_id, account_id, function, team, source_system, kind, "
    "seconds"
)
_DURATIONS_SELECT = f"""
SELECT d.opportunity_id, d.metric, d.at, {period_sql("d.at", "month")}, d.contributor_id, d.account_id, c.function,
  COALESCE(c.team, ''), d.source_system, d.kind,
  CAST(EXTRACT(EPOCH FROM (d.done - d.opp_first_seen_at)) AS double precision)
FROM (
  SELECT f.opportunity_id, f.contributor_id, f.account_id, f.source_system, f.kind, f.opp_first_seen_at, m.metric,
    CASE m.metric WHEN 3 THEN f.opp_first_seen_at ELSE f.observed_at END AS at,
    CASE m.metric WHEN 1 THEN f.first_synced_at WHEN 2 THEN f.first_stage_changed_at
      ELSE LEAST(f.first_stage_changed_at, f.closed_at,
        (SELECT MIN(e.created_at) FROM opportunity_events e WHERE e.opportunity_id = f.opportunity_id)) END AS done
  FROM report_credit_facts f CROSS JOIN (VALUES (1), (2), (3)) AS m(metric)
  WHERE f.rank = 1 {{where}}
) d
JOIN contributors c ON c.id = d.contributor_id
WHERE d.done IS NOT NULL
"""
_DURATIONS = f"INSERT INTO report_durations ({_DURATION_COLUMNS}) {_DURATIONS_SELECT}"
_DURATION_VALUES = _DURATION_COLUMNS.split(", ")[2:]  # what is not the key (opportunity_id, metric)
_UPDATED = ", ".join(f"{c} = EXCLUDED.{c}" for c in _DURATION_VALUES)
_DIFFERS = (
    f"({', '.join('report_durations.' + c for c in _DURATION_VALUES)}) IS DISTINCT FROM "
    f"({', '.join('EXCLUDED.' + c for c in _DURATION_VALUES)})"
)
# The durations of changed opportunities, written only where they differ: most changes (a new signal, a note, a
# sync of an opportunity already in the CRM) leave them as they were, and rewriting them cost a row version and an
# entry in each of the table's eight indexes per row.
_DURATIONS_CHANGED = f"""
WITH fresh ({_DURATION_COLUMNS}) AS ({{select}}),
gone AS (
  DELETE FROM report_durations x WHERE x.opportunity_id IN {{changed}}
    AND NOT EXISTS (SELECT 1 FROM fresh WHERE fresh.opportunity_id = x.opportunity_id AND fresh.metric = x.metric)
)
INSERT INTO report_durations ({_DURATION_COLUMNS}) SELECT {_DURATION_COLUMNS} FROM fresh
ON CONFLICT (opportunity_id, metric) DO UPDATE SET {_UPDATED} WHERE {_DIFFERS}
"""

_DELTA_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS report_fact_delta (
  w integer, observed_at timestamptz, opp_first_seen_at timestamptz, contributor_id uuid, account_id uuid,
  source_system text, kind text, currency text, rank integer, status text, value_cents bigint,
  originator_cents bigint, equal_cents bigint, time_weighted_cents bigint) ON COMMIT DROP;
CREATE TEMP TABLE IF NOT EXISTS report_signal_delta (
  w integer, observed_at timestamptz, contributor_id uuid, account_id uuid, source_system text, kind text
) ON COMMIT DROP;
CREATE TEMP TABLE IF NOT EXISTS report_changed_opportunities (id uuid PRIMARY KEY) ON COMMIT DROP
"""


def _ids_param(name: str) -> sa.BindParameter[object]:
    return sa.bindparam(name, type_=postgresql.ARRAY(sa.Uuid()))


def rebuild_all(conn: Connection) -> None:
    """Build every summary from the fact table and the signals (after the facts were rebuilt)."""
    # DELETE, not TRUNCATE: reports keep reading the old rows until this commits instead of waiting for it.
    for table in (
        "report_rollup_contributor",
        "report_rollup_account",
        "report_rollup_source_kind",
        "report_signal_facts",
        "report_durations",
        "report_contributor_dims",
    ):
        conn.execute(sa.text(f"DELETE FROM {table}"))
    conn.execute(
        sa.text(
            f"INSERT INTO report_signal_facts (signal_id, {SIGNAL_COLUMNS}) SELECT id, {SIGNAL_COLUMNS} FROM signals"
        )
    )
    _apply(conn, SIGNAL_AXES, "report_signal_facts", weight="1")
    _apply(conn, FACT_AXES, "report_credit_facts", weight="1")
    conn.execute(sa.text(_DURATIONS.format(where="")))
    conn.execute(
        sa.text(
            "INSERT INTO report_contributor_dims (contributor_id, function, team) "
            "SELECT id, function, COALESCE(team, '') FROM contributors"
        )
    )


def rebuild_facts(conn: Connection, opportunity_ids: Sequence[object], insert_sql: str) -> None:
    """Rebuild these opportunities' facts (``insert_sql`` selects them by ``:ids``) and apply the change."""
    for statement in _DELTA_TABLES.split(";"):
        conn.execute(sa.text(statement))
    ids = list(opportunity_ids)
    conn.execute(
        sa.text("INSERT INTO report_changed_opportunities SELECT unnest(:ids) ON CONFLICT DO NOTHING").bindparams(
            _ids_param("ids")
        ),
        {"ids": ids},
    )
    changed = "(SELECT id FROM report_changed_opportunities)"
    conn.execute(
        sa.text(
            f"WITH gone AS (DELETE FROM report_credit_facts WHERE opportunity_id IN {changed} "
            f"RETURNING {FACT_COLUMNS}) INSERT INTO report_fact_delta SELECT -1, {FACT_COLUMNS} FROM gone"
        )
    )
    conn.execute(
        sa.text(
            f"WITH added AS ({insert_sql.format(where=f'AND o.id IN {changed}')} RETURNING {FACT_COLUMNS}) "
            f"INSERT INTO report_fact_delta SELECT 1, {FACT_COLUMNS} FROM added"
        )
    )
    _apply(conn, FACT_AXES, "report_fact_delta")
    select = _DURATIONS_SELECT.format(where=f"AND f.opportunity_id IN {changed}")
    conn.execute(sa.text(_DURATIONS_CHANGED.format(select=select, changed=changed)))


def refresh_signals(conn: Connection, signal_ids: Sequence[object]) -> None:
    """Re-mirror these signals (inserted, changed or deleted since the last refresh) and apply the change."""
    _sync_contributor_dims(conn)
    if not signal_ids:
        return
    for statement in _DELTA_TABLES.split(";"):
        conn.execute(sa.text(statement))
    changed = "(SELECT unnest(:ids))"
    ids = {"ids": list(signal_ids)}
    conn.execute(
        sa.text(
            f"WITH gone AS (DELETE FROM report_signal_facts WHERE signal_id IN {changed} RETURNING {SIGNAL_COLUMNS}) "
            f"INSERT INTO report_signal_delta SELECT -1, {SIGNAL_COLUMNS} FROM gone"
        ).bindparams(_ids_param("ids")),
        ids,
    )
    conn.execute(
        sa.text(
            f"WITH added AS (INSERT INTO report_signal_facts (signal_id, {SIGNAL_COLUMNS}) "
            f"SELECT id, {SIGNAL_COLUMNS} FROM signals WHERE id IN {changed} RETURNING {SIGNAL_COLUMNS}) "
            f"INSERT INTO report_signal_delta SELECT 1, {SIGNAL_COLUMNS} FROM added"
        ).bindparams(_ids_param("ids")),
        ids,
    )
    if conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM report_signal_delta)")).scalar_one():
        _apply(conn, SIGNAL_AXES, "report_signal_delta")


def _sync_contributor_dims(conn: Connection) -> None:
    """Carry function and team changes of contributors into the durations (a 5,000-row comparison when none)."""
    changed = conn.execute(
        sa.text(
            "SELECT c.id, c.function, COALESCE(c.team, '') AS team FROM contributors c "
            "LEFT JOIN report_contributor_dims d ON d.contributor_id = c.id "
            "WHERE d.contributor_id IS NULL OR d.function <> c.function OR d.team <> COALESCE(c.team, '')"
        )
    ).all()
    if not changed:
        return
    rows = [{"id": r.id, "function": r.function, "team": r.team} for r in changed]
    conn.execute(
        sa.text(
            "UPDATE report_durations SET function = :function, team = :team "
            "WHERE contributor_id = :id AND (function <> :function OR team <> :team)"
        ),
        rows,
    )
    conn.execute(
        sa.text(
            "INSERT INTO report_contributor_dims (contributor_id, function, team) VALUES (:id, :function, :team) "
            "ON CONFLICT (contributor_id) DO UPDATE SET function = EXCLUDED.function, team = EXCLUDED.team"
        ),
        rows,
    )
