"""titles up to 255 characters (an issue tracker summary's limit; schemas/limits.py MAX_TITLE_CHARS)

Revision ID: 0007_title_length
Revises: 0006_capture
Create Date: 2026-12-05 10:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_title_length'
down_revision: str | None = '0006_capture'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("signals", "opportunities")


def upgrade() -> None:
    # SQLite does not enforce VARCHAR lengths; only PostgreSQL's columns need widening.
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "title", type_=sa.String(255), existing_type=sa.String(200), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "title", type_=sa.String(200), existing_type=sa.String(255), existing_nullable=False)
