"""accounts.version (the directory counter's value at each account's last change) and account index snapshots

Every process keeps the account directory in memory and catches up with the rows whose version is above the
one it has applied (app/accounts/directory.py), instead of rebuilding the whole index on every change.

Revision ID: 0009_account_versions
Revises: 0008_duplicates
Create Date: 2026-12-05 12:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.timeutil

revision: str = '0009_account_versions'
down_revision: str | None = '0008_duplicates'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_accounts_version", "accounts", ["version"])
    op.create_table(
        "account_index_snapshots",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", app.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_index_snapshots")
    op.drop_index("ix_accounts_version", table_name="accounts")
    op.drop_column("accounts", "version")
