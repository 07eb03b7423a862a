"""Small helpers for API tests."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel


def row_counts(engine: sa.Engine) -> dict[str, int]:
    """Rows per table, to prove a rejected request stored nothing."""
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in SQLModel.metadata.sorted_tables
        }
