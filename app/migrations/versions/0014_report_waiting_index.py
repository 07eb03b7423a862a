"""ageing reads the waiting index alone: it includes opportunity_id (the routes join)

The ageing report joins each open, unstaged originator credit to its route by opportunity_id, which the partial
index ix_report_credit_facts_waiting did not hold: every one of its ~48k rows (1M-signal seed) was a heap visit.

Revision ID: 0014_report_waiting_index
Revises: 0013_report_change_log
Create Date: 2026-12-06 02:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_report_waiting_index'
down_revision: str | None = '0013_report_change_log'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "rank = 1 AND status = 'open' AND first_stage_changed_at IS NULL"


def _create(include: list[str]) -> None:
    op.create_index(
        'ix_report_credit_facts_waiting', 'report_credit_facts', ['opp_first_seen_at'], unique=False,
        postgresql_include=include, postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE),
    )


def upgrade() -> None:
    op.drop_index('ix_report_credit_facts_waiting', table_name='report_credit_facts')
    _create(['account_id', 'contributor_id', 'first_synced_at', 'opp_signal_count', 'opportunity_id'])


def downgrade() -> None:
    op.drop_index('ix_report_credit_facts_waiting', table_name='report_credit_facts')
    _create(['account_id', 'contributor_id', 'first_synced_at', 'opp_signal_count'])
