"""Shared fixtures: a migrated database per backend (SQLite always; PostgreSQL when TEST_DATABASE_URL is set),
emptied before each test, the app over it, and API keys.

The schema is built by running the Alembic migrations, exactly as production does.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

from app.core.auth import create_key
from app.core.db import make_engine, normalise_url, transaction
from app.core.migrate import upgrade
from app.core.settings import Settings
from app.main import create_app

PG_URL = os.environ.get("TEST_DATABASE_URL")
# One encryption key for stored secrets per test process (inherited by the servers tests start), so no test
# writes a key file under ./var.
os.environ.setdefault("SIGNAL_PIPELINE_SECRET_KEYS", Fernet.generate_key().decode())
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]
ALL_SCOPES = ["signals:write", "signals:read", "reports:read", "admin"]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def _sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("db") / "test.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def _postgresql_url() -> Iterator[str]:
    assert PG_URL is not None
    name = f"sp_test_{_worker()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty(url: str) -> None:
    engine = make_engine(url)
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
        else:
            for t in tables:
                conn.execute(sa.text(f'DELETE FROM "{t}"'))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database; the test runs once per backend."""
    url: str = request.getfixturevalue(f"_{request.param}_url")
    _empty(url)
    return url


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, log_format="text")


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def engine(app: FastAPI) -> sa.Engine:
    engine: sa.Engine = app.state.engine
    return engine


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


KeyFactory = Callable[..., str]


@pytest.fixture
def make_key(engine: sa.Engine) -> KeyFactory:
    def factory(*scopes: str, contributor_id: uuid.UUID | None = None) -> str:
        with transaction(engine) as session:
            _key, raw = create_key(session, "test", list(scopes or ALL_SCOPES), contributor_id)
        return raw

    return factory


@pytest.fixture
def auth(make_key: KeyFactory) -> dict[str, str]:
    """Headers with a key holding every scope."""
    return {"Authorization": f"Bearer {make_key()}"}


class Resolver:
    """Name resolution for the outbound guard in tests (integrations.outbound.set_resolver): a table the test
    fills and may change between creation and delivery; names not in it do not resolve."""

    # example.com's public address when this was written; only ever resolved to, never connected to.
    PUBLIC = "93.184.215.14"

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.table:
            raise OSError(f"{host} does not resolve")
        return self.table[host]


@pytest.fixture
def resolver() -> Iterator[Resolver]:
    from integrations import outbound

    fake = Resolver()
    outbound.set_resolver(fake)
    try:
        yield fake
    finally:
        outbound.set_resolver(None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """The app served by a real uvicorn on a free port, in a thread of the test process."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("live server did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


def signal_body(**overrides: object) -> dict[str, object]:
    """A valid POST /v1/signals body; keyword arguments replace top-level fields."""
    body: dict[str, object] = {
        "contributor": {
            "email": "anna.berg@ourco.se",
            "name": "Anna Berg",
            "function": "support",
            "team": "L2",
        },
        "customer": {"name": "Nordkraft AB", "domain": "nordkraft.se"},
        "kind": "inefficiency",
        "title": "Invoices are re-keyed by hand",
        "body": "Their finance team types every supplier invoice into the ERP manually.",
        "source": {"system": "jira", "reference": f"SUP-{uuid.uuid4().hex[:8]}"},
    }
    body.update(overrides)
    return body


ROOT = Path(__file__).resolve().parent.parent
