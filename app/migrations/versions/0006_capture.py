"""capture: the capture task queue (inbound vendor payloads, follow-ups) and the origin of captured signals

Revision ID: 0006_capture
Revises: 0005_web_sessions
Create Date: 2026-12-05 09:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.timeutil

revision: str = '0006_capture'
down_revision: str | None = '0005_web_sessions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('capture_tasks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('dedup_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', app.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('created_at', app.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', app.core.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capture_tasks')),
    sa.UniqueConstraint('source', 'dedup_key', name=op.f('uq_capture_tasks_source_dedup_key'))
    )
    op.create_index('ix_capture_tasks_state_next_attempt_at', 'capture_tasks', ['state', 'next_attempt_at'], unique=False)
    op.create_table('capture_origins',
    sa.Column('signal_id', sa.Uuid(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('follows', sa.JSON(), nullable=False),
    sa.Column('reply_to', sa.JSON(), nullable=False),
    sa.Column('created_at', app.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['signal_id'], ['signals.id'], name=op.f('fk_capture_origins_signal_id_signals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('signal_id', name=op.f('pk_capture_origins'))
    )


def downgrade() -> None:
    op.drop_table('capture_origins')
    op.drop_index('ix_capture_tasks_state_next_attempt_at', table_name='capture_tasks')
    op.drop_table('capture_tasks')
