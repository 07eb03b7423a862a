"""accounts.version: the directory's change counter value of each account's last change

Every process keeps the account directory in memory and catches up with the rows whose version is above the
one it has applied (app/accounts/directory.py), instead of rebuilding the whole index on every change.

Revision ID: 0009_account_versions
Revises: 0008_duplicates
Create Date: 2026-12-05 12:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_account_versions'
down_revision: str | None = '0008_duplicates'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_accounts_version", "accounts", ["version"])


def downgrade() -> None:
    op.drop_index("ix_accounts_version", table_name="accounts")
    op.drop_column("accounts", "version")
