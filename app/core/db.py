"""Engine and sessions. SQLite (embedded default) and PostgreSQL (production) behave the same to callers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator used."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    engine = sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size)
    _ping_idle_connections(engine)
    return engine


# A pooled connection that sat idle this long is checked before use (a database restart or an idle timeout in a
# proxy may have closed it meanwhile). One handed back moments ago by another request is not: pool_pre_ping would
# ping on every checkout, a round trip per request on a busy service for a failure the idle ones carry.
IDLE_PING_SECONDS = 10.0


def _ping_idle_connections(engine: Engine) -> None:
    """SQLAlchemy's "pessimistic" disconnect handling, applied to idle connections only: raising DisconnectionError
    at checkout makes the pool discard the connection and hand out a fresh one
    (https://docs.sqlalchemy.org/en/20/core/pooling.html#disconnect-handling-pessimistic)."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < IDLE_PING_SECONDS:
            return  # a new connection, or one in use moments ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise sa.exc.DisconnectionError("idle connection failed its ping") from exc


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot take the write lock up front; with many
    # threads that ends in "database is locked" upgrade deadlocks. We issue BEGIN IMMEDIATE ourselves so
    # writers queue on busy_timeout instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
