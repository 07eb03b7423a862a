"""report change log: triggers record which opportunities and signals changed; the report refresh consumes them

Until now the refresh found changes by ``updated_at >= watermark - 5 minutes`` and re-did the last five minutes on
every run (and inside report requests). The triggers below record exactly what changed, whoever changed it (ingest,
review, merge, detach, outcomes, the sync worker, erasure), in the writer's own transaction: a change is in the log
if and only if it committed. The refresh deletes the rows it can see and rebuilds only those.
Metric 3 of report_durations (first signal to first reaction) serves the adoption report; opportunity events are
logged for it. The report tables are vacuumed more eagerly (their reads are index-only scans).
The indexes that served the old search (opportunities.updated_at, signals.received_at) go: nothing else reads them
and every ingest paid for them.

Revision ID: 0013_report_change_log
Revises: 0012_scopes
Create Date: 2026-12-05 12:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_report_change_log'
down_revision: str | None = '0012_scopes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The opportunity columns the credit facts are built from (app/reports/facts.py _INSERT).
OPPORTUNITY_COLUMNS = (
    "account_id", "signal_count", "first_seen_at", "status", "amount", "currency", "estimated_amount",
    "estimated_currency", "synced_at", "stage_changed_at", "closed_at", "merged_into_id",
)
# The signal columns the signal mirror holds (report_signal_facts) and those a credit fact takes from its first signal.
SIGNAL_COLUMNS = ("observed_at", "contributor_id", "account_id", "source_system", "kind")
SIGNAL_FACT_COLUMNS = ("source_system", "kind")


def _changed(columns: Sequence[str]) -> str:
    return f"({', '.join('o.' + c for c in columns)}) IS DISTINCT FROM ({', '.join('n.' + c for c in columns)})"


# PostgreSQL: one statement-level trigger per table and operation, reading the transition tables, so that a batch
# insert (or COPY) logs its rows in one INSERT ... SELECT.
PG_FUNCTIONS = {
    "report_log_credits": """
      IF TG_OP <> 'DELETE' THEN
        INSERT INTO report_stale_opportunities (opportunity_id) SELECT DISTINCT opportunity_id FROM new_rows;
      END IF;
      IF TG_OP <> 'INSERT' THEN
        INSERT INTO report_stale_opportunities (opportunity_id) SELECT DISTINCT opportunity_id FROM old_rows;
      END IF;""",
    "report_log_milestones": """
      INSERT INTO report_stale_opportunities (opportunity_id) SELECT DISTINCT opportunity_id FROM new_rows;""",
    # A recorded human decision is a reaction (report_durations metric 3).
    "report_log_events": """
      INSERT INTO report_stale_opportunities (opportunity_id) SELECT DISTINCT opportunity_id FROM new_rows;""",
    "report_log_opportunities": f"""
      IF TG_OP = 'DELETE' THEN
        INSERT INTO report_stale_opportunities (opportunity_id) SELECT id FROM old_rows;
      ELSE
        INSERT INTO report_stale_opportunities (opportunity_id)
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {_changed(OPPORTUNITY_COLUMNS)};
      END IF;""",
    "report_log_signals": f"""
      IF TG_OP = 'INSERT' THEN
        INSERT INTO report_stale_signals (signal_id) SELECT id FROM new_rows;
      ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO report_stale_signals (signal_id) SELECT id FROM old_rows;
        INSERT INTO report_stale_opportunities (opportunity_id)
        SELECT DISTINCT opportunity_id FROM old_rows WHERE opportunity_id IS NOT NULL;
      ELSE
        INSERT INTO report_stale_signals (signal_id)
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {_changed(SIGNAL_COLUMNS)};
        INSERT INTO report_stale_opportunities (opportunity_id)
        SELECT DISTINCT x.opportunity_id FROM new_rows n JOIN old_rows o ON o.id = n.id,
          LATERAL (VALUES (o.opportunity_id), (n.opportunity_id)) AS x(opportunity_id)
        WHERE x.opportunity_id IS NOT NULL AND {_changed(SIGNAL_FACT_COLUMNS)};
      END IF;""",
}
PG_TRIGGERS = (
    ("credits", "report_log_credits", ("INSERT", "UPDATE", "DELETE")),
    ("opportunity_milestones", "report_log_milestones", ("INSERT", "UPDATE")),
    ("opportunity_events", "report_log_events", ("INSERT",)),
    ("opportunities", "report_log_opportunities", ("UPDATE", "DELETE")),
    ("signals", "report_log_signals", ("INSERT", "UPDATE", "DELETE")),
)
REPORT_TABLES = (
    "report_credit_facts", "report_signal_facts", "report_durations", "report_rollup_contributor",
    "report_rollup_account", "report_rollup_source_kind",
)
TRANSITIONS = {
    "INSERT": "NEW TABLE AS new_rows",
    "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
}


def _sqlite_changed(columns: Sequence[str]) -> str:
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


# SQLite (one process, reports read the facts directly): row triggers for the facts only; it keeps no signal mirror.
STALE = "INSERT INTO report_stale_opportunities (opportunity_id) VALUES"
SQLITE_TRIGGERS = {
    "report_log_credits_insert": f"AFTER INSERT ON credits BEGIN {STALE} (NEW.opportunity_id); END",
    "report_log_credits_update": (
        f"AFTER UPDATE ON credits BEGIN {STALE} (OLD.opportunity_id), (NEW.opportunity_id); END"
    ),
    "report_log_credits_delete": f"AFTER DELETE ON credits BEGIN {STALE} (OLD.opportunity_id); END",
    "report_log_milestones_insert": (
        f"AFTER INSERT ON opportunity_milestones BEGIN {STALE} (NEW.opportunity_id); END"
    ),
    "report_log_milestones_update": (
        f"AFTER UPDATE ON opportunity_milestones BEGIN {STALE} (NEW.opportunity_id); END"
    ),
    "report_log_opportunities_update": (
        f"AFTER UPDATE ON opportunities WHEN {_sqlite_changed(OPPORTUNITY_COLUMNS)} BEGIN {STALE} (NEW.id); END"
    ),
    "report_log_opportunities_delete": f"AFTER DELETE ON opportunities BEGIN {STALE} (OLD.id); END",
    "report_log_signals_update": (
        f"AFTER UPDATE ON signals WHEN {_sqlite_changed(SIGNAL_FACT_COLUMNS)} "
        f"BEGIN {STALE} (OLD.opportunity_id), (NEW.opportunity_id); END"
    ),
}


def upgrade() -> None:
    op.create_table(
        'report_stale_opportunities', sa.Column('opportunity_id', sa.Uuid(), nullable=False)
    )
    op.create_table('report_stale_signals', sa.Column('signal_id', sa.Uuid(), nullable=False))
    op.drop_index('ix_opportunities_updated_at', table_name='opportunities')
    op.drop_index('ix_signals_received_at', table_name='signals')
    if op.get_bind().dialect.name == "postgresql":
        for name, body in PG_FUNCTIONS.items():
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}\n"
                       "  RETURN NULL;\nEND $$")
        for table, function, operations in PG_TRIGGERS:
            for operation in operations:
                op.execute(
                    f"CREATE TRIGGER {function}_{operation.lower()} AFTER {operation} ON {table} "
                    f"REFERENCING {TRANSITIONS[operation]} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
                )
        # Keep the visibility maps of the report tables fresh (their reads are index-only scans) after a few
        # thousand changed rows rather than after a fifth of the table.
        for table in REPORT_TABLES:
            op.execute(
                f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02, "
                "autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)"
            )
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    # Everything before the log existed: the next refresh rebuilds every summary once.
    op.execute("UPDATE counters SET value = 0 WHERE name = 'report_facts_watermark'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in REPORT_TABLES:
            op.execute(
                f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor, "
                "autovacuum_analyze_scale_factor)"
            )
        for table, function, operations in PG_TRIGGERS:
            for operation in operations:
                op.execute(f"DROP TRIGGER {function}_{operation.lower()} ON {table}")
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.create_index('ix_signals_received_at', 'signals', ['received_at'], unique=False)
    op.create_index('ix_opportunities_updated_at', 'opportunities', ['updated_at'], unique=False)
    op.drop_table('report_stale_signals')
    op.drop_table('report_stale_opportunities')
