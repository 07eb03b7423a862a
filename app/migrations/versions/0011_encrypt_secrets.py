"""secrets at rest: webhook signing secrets and PKCE verifiers encrypted with Fernet (app/core/secretbox.py)

Widens the columns for Fernet tokens and encrypts every value still stored as plaintext with the configured
key (SIGNAL_PIPELINE_SECRET_KEYS, or the embedded set-up's var/secret-key); the key is only read when there is
plaintext to encrypt. Downgrade decrypts them back.

Revision ID: 0011_encrypt_secrets
Revises: 0010_rate_limit_buckets
Create Date: 2026-12-05 12:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_encrypt_secrets'
down_revision: str | None = '0010_rate_limit_buckets'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, key column, secret column, plaintext width before this migration)
COLUMNS = (("subscriptions", "id", "secret", 100), ("web_sign_in_tokens", "id", "code_verifier", 128))


def _rewrite(encrypting: bool) -> None:
    from app.core import secretbox

    conn = op.get_bind()
    for table_name, key, column, _ in COLUMNS:
        table = sa.table(table_name, sa.column(key), sa.column(column, sa.String()))
        rows = conn.execute(sa.select(table.c[key], table.c[column]).where(table.c[column].is_not(None))).all()
        for row_key, value in rows:
            if secretbox.is_encrypted(value) == encrypting:
                continue
            box = secretbox.current()
            new = box.encrypt(value) if encrypting else box.decrypt(value)
            conn.execute(sa.update(table).where(table.c[key] == row_key).values({column: new}))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite does not enforce VARCHAR lengths
        for table, _, column, width in COLUMNS:
            op.alter_column(table, column, type_=sa.String(500), existing_type=sa.String(width))
    _rewrite(encrypting=True)


def downgrade() -> None:
    _rewrite(encrypting=False)
    if op.get_bind().dialect.name == "postgresql":
        for table, _, column, width in COLUMNS:
            op.alter_column(table, column, type_=sa.String(width), existing_type=sa.String(500))
