"""request rate-limit buckets shared by API processes (app/core/ratelimit.py)

Revision ID: 0010_rate_limit_buckets
Revises: 0009_account_versions
Create Date: 2026-12-05 12:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_rate_limit_buckets'
down_revision: str | None = '0009_account_versions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'rate_limit_buckets',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('tokens', sa.Float(), nullable=False),
        sa.Column('updated_at', sa.Float(), nullable=False),
        sa.Column('allowed', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limit_buckets')),
    )
    if op.get_bind().dialect.name == "postgresql":
        # No WAL for a bucket update: losing buckets in a crash only refills them.
        op.execute("ALTER TABLE rate_limit_buckets SET UNLOGGED")


def downgrade() -> None:
    op.drop_table('rate_limit_buckets')
