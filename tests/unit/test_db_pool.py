"""Pooled PostgreSQL connections: an idle one that the server closed is replaced before a request meets it, and
one handed back moments ago is used without a ping (app/core/db.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.core import db
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(PG_URL is None, reason="needs TEST_DATABASE_URL (PostgreSQL)")


@pytest.fixture
def engine(_postgresql_url: str) -> Iterator[sa.Engine]:
    engine = db.make_engine(_postgresql_url, pool_size=1)
    yield engine
    engine.dispose()


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    admin = sa.create_engine(db.normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


def test_an_idle_connection_the_server_closed_is_replaced(
    engine: sa.Engine, _postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend_pid(engine)
    _terminate(_postgresql_url, first)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle
    assert _backend_pid(engine) != first  # the dead one failed its ping and was swapped, not given to the caller


def test_a_connection_used_moments_ago_is_not_pinged(engine: sa.Engine) -> None:
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    pings: list[object] = []
    original = engine.dialect.do_ping

    def counting_ping(dbapi_conn: object) -> bool:
        pings.append(dbapi_conn)
        return original(dbapi_conn)

    engine.dialect.do_ping = counting_ping  # type: ignore[method-assign]
    for _ in range(5):
        _backend_pid(engine)
    assert pings == []  # pool_pre_ping would have pinged at each of the 5 checkouts
    assert len(statements) == 5
