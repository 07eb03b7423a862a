"""finer scopes (issue 11): keys and web sessions keep what they could do, bound keys lose what leaked

Before, signals:write posted in anyone's name and signals:read also read the account directory and the sync
status. Unbound keys keep all of that through the new scopes (signals:write:any, accounts:read, sync:read); keys
bound to a contributor do not get them: those were the leaks. admin implies every scope, so admin keys are unchanged.
Web sessions take their role's scopes (app/web/sessions.py ROLE_GRANTS, copied here as they are at this revision).

Revision ID: 0012_scopes
Revises: 0011_encrypt_secrets
Create Date: 2026-12-05 12:40:00
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012_scopes"
down_revision: str | None = "0011_encrypt_secrets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNBOUND_GRANTS = {
    "signals:write": ["signals:write:any"],
    "signals:read": ["accounts:read", "sync:read"],
}
OLD_SCOPES = {"signals:write", "signals:read", "reports:read", "admin"}
ROLE_SCOPES = {
    "contributor": ["accounts:read", "signals:read", "signals:write"],
    "seller": ["accounts:read", "signals:read", "signals:write"],
    "analyst": ["accounts:read", "reports:read", "reports:read:all", "signals:read", "signals:write"],
    "admin": ["admin"],
}
OLD_ROLE_SCOPES = {
    "contributor": ["signals:read", "signals:write"],
    "seller": ["signals:read", "signals:write"],
    "analyst": ["reports:read", "signals:read", "signals:write"],
    "admin": ["admin"],
}


def _scopes(value: Any) -> list[str]:
    return list(json.loads(value) if isinstance(value, str) else value or [])


def _set(table: str, row_id: Any, scopes: list[str]) -> None:
    op.get_bind().execute(
        sa.text(f"UPDATE {table} SET scopes = :scopes WHERE id = :id").bindparams(
            sa.bindparam("scopes", type_=sa.JSON())
        ),
        {"scopes": sorted(set(scopes)), "id": row_id},
    )


def upgrade() -> None:
    conn = op.get_bind()
    for row_id, scopes, contributor_id in conn.execute(sa.text("SELECT id, scopes, contributor_id FROM api_keys")):
        held = _scopes(scopes)
        if contributor_id is None:
            added = [new for old in held for new in UNBOUND_GRANTS.get(old, [])]
            if added:
                _set("api_keys", row_id, held + added)
    for row_id, role in conn.execute(sa.text("SELECT id, role FROM web_sessions")):
        if role in ROLE_SCOPES:
            _set("web_sessions", row_id, ROLE_SCOPES[role])


def downgrade() -> None:
    conn = op.get_bind()
    for row_id, scopes in conn.execute(sa.text("SELECT id, scopes FROM api_keys")):
        held = _scopes(scopes)
        _set("api_keys", row_id, [s for s in held if s in OLD_SCOPES])
    for row_id, role in conn.execute(sa.text("SELECT id, role FROM web_sessions")):
        if role in OLD_ROLE_SCOPES:
            _set("web_sessions", row_id, OLD_ROLE_SCOPES[role])
