"""report_sum(bigint): an exact integer sum that stays bigint, for the report queries

PostgreSQL's SUM(bigint) accumulates in 128 bits and returns numeric; every report sum (counts and cents) was cast
back to bigint. Building a numeric per group costs as much as the aggregation itself where there are many groups:
the ~154k (account, contributor) groups of the concentration report, the 20k account groups of credit by account.
report_sum adds with int8pl, the function behind bigint's + operator: the same value as SUM wherever it fits a bigint
(as every cast result did), NULL for no rows or only NULLs like SUM, and an error on overflow as the cast gave.
PostgreSQL only: SQLite's reports read the detail tables with SUM.

Revision ID: 0017_report_sum
Revises: 0016_report_periods
Create Date: 2026-12-06 08:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017_report_sum'
down_revision: str | None = '0016_report_periods'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # int8pl is strict: with no initial state the first non-NULL input becomes the state and NULLs are skipped.
    op.execute(sa.text(
        "CREATE AGGREGATE report_sum(bigint) "
        "(SFUNC = int8pl, STYPE = bigint, COMBINEFUNC = int8pl, PARALLEL = SAFE)"
    ))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text("DROP AGGREGATE report_sum(bigint)"))
