"""duplicate review, match labels and calibrations

Revision ID: 0008_duplicates
Revises: 0007_title_length
Create Date: 2026-12-05 12:14:30.352095
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.timeutil

revision: str = '0008_duplicates'
down_revision: str | None = '0007_title_length'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('match_calibrations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('platt_a', sa.Float(), nullable=False),
    sa.Column('platt_b', sa.Float(), nullable=False),
    sa.Column('merge_threshold', sa.Float(), nullable=False),
    sa.Column('suggest_floor', sa.Float(), nullable=False),
    sa.Column('labels', sa.Integer(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('created_at', app.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_calibrations'))
    )
    op.create_table('duplicate_suggestions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('signal_id', sa.Uuid(), nullable=False),
    sa.Column('opportunity_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('features', sa.JSON(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('created_at', app.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', app.core.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_duplicate_suggestions_account_id_accounts')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], name=op.f('fk_duplicate_suggestions_opportunity_id_opportunities')),
    sa.ForeignKeyConstraint(['signal_id'], ['signals.id'], name=op.f('fk_duplicate_suggestions_signal_id_signals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_suggestions')),
    sa.UniqueConstraint('signal_id', 'opportunity_id', name=op.f('uq_duplicate_suggestions_signal_id_opportunity_id'))
    )
    with op.batch_alter_table('duplicate_suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duplicate_suggestions_opportunity_id'), ['opportunity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_duplicate_suggestions_signal_id'), ['signal_id'], unique=False)
        batch_op.create_index('ix_duplicate_suggestions_status_id', ['status', 'id'], unique=False)

    op.create_table('match_labels',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('same', sa.Boolean(), nullable=False),
    sa.Column('signal_id', sa.Uuid(), nullable=True),
    sa.Column('opportunity_id', sa.Uuid(), nullable=True),
    sa.Column('other_opportunity_id', sa.Uuid(), nullable=True),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('features', sa.JSON(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', app.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_match_labels_account_id_accounts')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], name=op.f('fk_match_labels_opportunity_id_opportunities')),
    sa.ForeignKeyConstraint(['other_opportunity_id'], ['opportunities.id'], name=op.f('fk_match_labels_other_opportunity_id_opportunities')),
    sa.ForeignKeyConstraint(['signal_id'], ['signals.id'], name=op.f('fk_match_labels_signal_id_signals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_labels'))
    )
    with op.batch_alter_table('match_labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_labels_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_labels_signal_id'), ['signal_id'], unique=False)





def downgrade() -> None:


    with op.batch_alter_table('match_labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_labels_signal_id'))
        batch_op.drop_index(batch_op.f('ix_match_labels_kind'))

    op.drop_table('match_labels')
    with op.batch_alter_table('duplicate_suggestions', schema=None) as batch_op:
        batch_op.drop_index('ix_duplicate_suggestions_status_id')
        batch_op.drop_index(batch_op.f('ix_duplicate_suggestions_signal_id'))
        batch_op.drop_index(batch_op.f('ix_duplicate_suggestions_opportunity_id'))

    op.drop_table('duplicate_suggestions')
    op.drop_table('match_calibrations')
