"""Helpers for web page tests: sign in through a one-time link, read the CSRF token of a page."""

from __future__ import annotations

import re

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.db import transaction
from app.web.sessions import Role, create_link_token

LOOPBACK = "http://127.0.0.1"


def link_token(engine: sa.Engine, email: str, role: Role = "contributor") -> str:
    with transaction(engine) as session:
        return create_link_token(session, email, role)


def sign_in(client: TestClient, engine: sa.Engine, email: str, role: Role = "contributor") -> None:
    response = client.get(f"/app/login/link?token={link_token(engine, email, role)}", follow_redirects=False)
    assert response.status_code == 303, response.text


def csrf(client: TestClient, path: str = "/app") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)
