"""report rollups by quarter and year: a year-long report adds and subtracts a few periods instead of 11 months

The quarterly and yearly rows (axes sq, oq, fq, sy, oy, fy) of an existing database are summed from its monthly rows
(s, o, f), which hold the same detail rows; from then on the report refresh keeps them by deltas like every other
axis. PostgreSQL only: SQLite's reports read the detail tables.

Revision ID: 0016_report_periods
Revises: 0015_calibration_weights
Create Date: 2026-12-06 05:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016_report_periods'
down_revision: str | None = '0015_calibration_weights'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in app/reports/models.py at this revision (migrations do not import application code).
MEASURES = (
    "n", "originated", "won", "lost", "open_c", "won_c", "orig_open", "orig_won", "eq_open", "eq_won", "tw_open",
    "tw_won", "orig_value",
)
ROLLUPS = {
    "report_rollup_contributor": ("contributor_id",),
    "report_rollup_account": ("account_id",),
    "report_rollup_source_kind": ("source_system", "kind"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, keys in ROLLUPS.items():
        for suffix, unit in (("q", "quarter"), ("y", "year")):
            period = f"CAST(date_trunc('{unit}', month) AS date)"
            group = ", ".join(["axis", period, *keys, "currency"])
            op.execute(sa.text(
                f"INSERT INTO {table} (axis, month, {', '.join(keys)}, currency, {', '.join(MEASURES)}) "
                f"SELECT axis || '{suffix}', {period}, {', '.join(keys)}, currency, "
                f"{', '.join(f'SUM({m})' for m in MEASURES)} FROM {table} WHERE axis IN ('s', 'o', 'f') "
                f"GROUP BY {group} ORDER BY {group}"
            ))
        # The planner's statistics know no quarterly rows yet: without them it would estimate one row per quarter.
        op.execute(sa.text(f"ANALYZE {table}"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ROLLUPS:
        op.execute(sa.text(f"DELETE FROM {table} WHERE axis IN ('sq', 'oq', 'fq', 'sy', 'oy', 'fy')"))
