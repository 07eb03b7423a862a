"""The per-credit fact table behind the reports, kept current incrementally.

Triggers (migration 0013) log the opportunities and signals whose report rows are stale, in the writer's own
transaction, whoever the writer is: ingest, review, merge, detach, outcomes, the sync worker, erasure. ``refresh``
takes the logged ids it can see and rebuilds only those (``run_refresh_loop`` does so every few seconds in the
background), so report requests only read. Credit shares are computed here, in integer cents, so that each model's
shares of an opportunity sum exactly to its value: non-originators get the truncated share, the originator the
remainder.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from app.core.tables import Counter
from app.reports import rollups
from app.reports.models import STALE_OPPORTUNITIES, STALE_SIGNALS

log = logging.getLogger("signal_pipeline.reports")

WATERMARK = "report_facts_watermark"
# How often the background loop brings the report tables up to date: how stale a report can be.
REFRESH_SECONDS = 2.0
CHUNK = 2000
REPORT_TABLES = (
    "report_credit_facts",
    "report_signal_facts",
    "report_durations",
    "report_rollup_contributor",
    "report_rollup_account",
    "report_rollup_source_kind",
)

_COLUMNS = (
    "credit_id, opportunity_id, contributor_id, account_id, role, rank, n_credits, signal_count, opp_signal_count, "
    "observed_at, opp_first_seen_at, source_system, kind, status, currency, value_cents, originator_cents, "
    "equal_cents, time_weighted_cents, first_synced_at, first_stage_changed_at, closed_at"
)

# Time-weighted: rank r of n weighs (n - r + 1) / (n (n + 1) / 2): earlier observers weigh more, linearly.
_INSERT = f"""
INSERT INTO report_credit_facts ({_COLUMNS})
SELECT credit_id, opportunity_id, contributor_id, account_id, role, rnk, n, signal_count, opp_signal_count,
  observed_at, opp_first_seen_at, source_system, kind, status, currency, value_cents,
  CASE WHEN value_cents IS NULL THEN NULL WHEN role = 'originator' THEN value_cents ELSE 0 END,
  CASE WHEN value_cents IS NULL THEN NULL
       WHEN rnk = 1 THEN value_cents - (n - 1) * (value_cents / n) ELSE value_cents / n END,
  CASE WHEN value_cents IS NULL THEN NULL
       WHEN rnk = 1 THEN value_cents - (SUM(tw) OVER (PARTITION BY opportunity_id) - tw) ELSE tw END,
  first_synced_at, first_stage_changed_at, closed_at
FROM (
  SELECT b.*, (b.value_cents * (b.n - b.rnk + 1)) / ((b.n * (b.n + 1)) / 2) AS tw
  FROM (
    SELECT c.id AS credit_id, c.opportunity_id, c.contributor_id, o.account_id,
      c.role,
      ROW_NUMBER() OVER w AS rnk,
      COUNT(*) OVER (PARTITION BY c.opportunity_id) AS n,
      c.signal_count, o.signal_count AS opp_signal_count,
      c.first_observed_at AS observed_at, o.first_seen_at AS opp_first_seen_at,
      s.source_system, s.kind, o.status,
      CASE WHEN o.amount IS NOT NULL THEN o.currency ELSE o.estimated_currency END AS currency,
      CAST(ROUND(COALESCE(o.amount, o.estimated_amount) * 100) AS BIGINT) AS value_cents,
      COALESCE(m.first_synced_at, o.synced_at) AS first_synced_at,
      COALESCE(m.first_stage_changed_at, o.stage_changed_at) AS first_stage_changed_at,
      o.closed_at
    FROM credits c
    JOIN opportunities o ON o.id = c.opportunity_id
    JOIN signals s ON s.id = c.first_signal_id
    LEFT JOIN opportunity_milestones m ON m.opportunity_id = o.id
    WHERE o.merged_into_id IS NULL {{where}}
    WINDOW w AS (PARTITION BY c.opportunity_id ORDER BY c.first_observed_at, c.first_signal_id)
  ) b
) t
"""


def rebuild_all(conn: Connection) -> None:
    conn.execute(sa.text("DELETE FROM report_credit_facts"))
    conn.execute(sa.text(_INSERT.format(where="")))
    if conn.dialect.name == "postgresql":
        rollups.rebuild_all(conn)


def rebuild(conn: Connection, opportunity_ids: Sequence[object]) -> None:
    """Rebuild the facts of these opportunities (merged or deleted ones simply lose theirs)."""
    if conn.dialect.name == "postgresql":
        rollups.rebuild_facts(conn, opportunity_ids, _INSERT)
        return
    for i in range(0, len(opportunity_ids), CHUNK):
        chunk = list(opportunity_ids[i : i + CHUNK])
        delete = sa.text("DELETE FROM report_credit_facts WHERE opportunity_id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True, type_=sa.Uuid())
        )
        conn.execute(delete, {"ids": chunk})
        insert = sa.text(_INSERT.format(where="AND o.id IN :ids")).bindparams(
            sa.bindparam("ids", expanding=True, type_=sa.Uuid())
        )
        conn.execute(insert, {"ids": chunk})


def _set_watermark(conn: Connection, value: int) -> None:
    table = Counter.__table__  # type: ignore[attr-defined]
    conn.execute(sa.update(table).where(table.c.name == WATERMARK).values(value=value))


def refresh(engine: Engine, *, full: bool = False, wait: bool = False) -> int:
    """Bring the report tables up to date; returns how many opportunities were rebuilt (-1 for a full rebuild).

    Concurrent callers do not queue: on PostgreSQL whoever holds the watermark row refreshes and the others
    return at once (0), unless ``wait``: then they wait for it and refresh after it (tests, which must see their
    own writes). Readers never wait: they read the tables as the last refresh committed them.

    Exact without an overlap: the log rows this refresh deletes were committed before its first statement, and every
    later statement reads at least that state. A change committing meanwhile keeps its log row for the next run.
    """
    started = int(time.time())
    table = Counter.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            # psycopg prepares statements after a few runs; a generic plan for "these few ids" may not know how few
            # and scan whole tables.
            conn.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
        conn.execute(
            insert_for_conn(conn, table).values(name=WATERMARK, value=0).on_conflict_do_nothing(index_elements=["name"])
        )
        stmt = sa.select(table.c.value).where(table.c.name == WATERMARK)
        if dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=not wait)
        mark = conn.execute(stmt).scalar_one_or_none()
        if mark is None:
            return 0
        opportunities = _take(conn, STALE_OPPORTUNITIES, "opportunity_id")
        signals = _take(conn, STALE_SIGNALS, "signal_id")
        if full or mark == 0:
            rebuild_all(conn)
            _set_watermark(conn, started)
            rebuilt = -1
        else:
            if opportunities:
                rebuild(conn, opportunities)
            if dialect == "postgresql":
                rollups.refresh_signals(conn, signals)
            _set_watermark(conn, started)
            return len(opportunities)
    if dialect == "postgresql":
        # A full build rewrote every row: vacuum now so that reports read the index alone (the visibility map)
        # from the first request, instead of visiting the heap until autovacuum comes by.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"VACUUM (ANALYZE) {', '.join(REPORT_TABLES)}"))
    return rebuilt


def _take(conn: Connection, table: sa.Table, column: str) -> list[Any]:
    """Delete the logged ids this transaction can see; each id once."""
    rows = conn.execute(sa.delete(table).returning(table.c[column])).scalars()
    return list(dict.fromkeys(rows))


def insert_for_conn(conn: Connection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


def run_refresh_loop(engine: Engine, stop: threading.Event, *, interval: float = REFRESH_SECONDS) -> None:
    """Refresh every ``interval`` seconds until ``stop`` is set: the one writer of the report tables besides a
    seed's full build, so that report requests only read (issue 10) and never pay for a refresh (issue 13)."""
    while not stop.is_set():
        try:
            rebuilt = refresh(engine)
            if rebuilt:
                log.info("reports.refreshed", extra={"opportunities": rebuilt})
        except sa.exc.SQLAlchemyError as exc:
            log.warning("reports.refresh_failed", extra={"error_type": type(exc).__name__})
        stop.wait(interval)
