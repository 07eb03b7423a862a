"""Dialect-aware statements that SQLAlchemy spells differently for SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_for(session: Session, table: Any) -> Any:
    """An INSERT supporting ``on_conflict_do_nothing/update`` on the session's dialect."""
    return insert_for_dialect(session.get_bind().dialect.name, table)


def insert_for_dialect(dialect: str, table: Any) -> Any:
    """The same, by dialect name (for a Connection)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
