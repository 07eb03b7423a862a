"""A request that cannot get a database connection is answered 503 with Retry-After, not 500.

The e2e tests of `serve --workers 2` saw one 500 among 16 concurrent posts now and then; the server log named an
OperationalError raised while connecting, and PostgreSQL's own log "sorry, too many clients already" at the same
moment (its connection slots shared by every test run on the machine). Nothing was executed: the client may send
the request again, and the answer says so."""

from __future__ import annotations

import socket

from fastapi.testclient import TestClient

from app.core.auth import new_key
from app.core.settings import Settings
from app.main import create_app


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens there


def test_no_connection_to_the_database_is_503_with_retry_after() -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/nowhere"
    app = create_app(Settings(database_url=url, log_format="text"))
    client = TestClient(app, raise_server_exceptions=False)  # no lifespan: it would refuse to start without one
    raw, _prefix = new_key()  # well formed: looking it up needs the database
    r = client.get("/v1/accounts", headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert r.json()["code"] == "database_unavailable"
