"""Guarantee 8: every route needs a key with the right scope; keys are stored hashed; logs carry no secrets."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.auth import Scope
from tests.conftest import KeyFactory, signal_body

PUBLIC = {"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect"}
# CRM webhooks carry the CRM's signature instead of an API key (tests/integration/test_sync_api.py).
PUBLIC |= {"/v1/webhooks/{crm}"}
# Capture routes carry the chat or ticket tool's signature (tests/integration/test_capture_conformance.py).
PUBLIC |= {"/capture/{name}", "/capture/{name}/{route}"}


def protected_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation in the OpenAPI document except the public probes."""
    return sorted(
        (method.upper(), path) for path, ops in app.openapi()["paths"].items() if path not in PUBLIC for method in ops
    )


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "00000000-0000-7000-8000-000000000000", path)


class TestEveryRoute:
    def test_there_are_protected_routes(self, app: FastAPI) -> None:
        assert len(protected_routes(app)) >= 5

    def test_without_a_key_is_401(self, app: FastAPI, client: TestClient) -> None:
        for method, path in protected_routes(app):
            r = client.request(method, concrete(path), json={})
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.headers.get("www-authenticate") == "Bearer"

    def test_with_a_bad_key_is_401(self, app: FastAPI, client: TestClient) -> None:
        for method, path in protected_routes(app):
            for token in ("sp_nope_nope", "garbage", ""):
                r = client.request(method, concrete(path), json={}, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 401, (method, path, token)

    def test_with_a_wrong_scope_is_403(self, app: FastAPI, client: TestClient, make_key: KeyFactory) -> None:
        checked = 0
        for method, path in protected_routes(app):
            needed = {s.value for s in Scope} - {"admin"}
            for scope in needed:
                key = make_key(scope)
                r = client.request(method, concrete(path), json={}, headers={"Authorization": f"Bearer {key}"})
                if r.status_code == 403:
                    assert r.headers["content-type"].startswith("application/problem+json")
                    assert r.json()["required_scope"] in {s.value for s in Scope}
                    checked += 1
            # Every route refuses at least one of the non-admin scopes: none is open to any key.
            refused = [
                s
                for s in needed
                if client.request(
                    method, concrete(path), json={}, headers={"Authorization": f"Bearer {make_key(s)}"}
                ).status_code
                == 403
            ]
            assert refused, (method, path)
        assert checked > 0


class TestKeys:
    def test_revoked_key_is_refused(
        self, app: FastAPI, client: TestClient, make_key: KeyFactory, engine: sa.Engine
    ) -> None:
        key = make_key("signals:read")
        app.state.key_cache.ttl = 0
        assert client.get("/v1/signals", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP"))
        assert client.get("/v1/signals", headers={"Authorization": f"Bearer {key}"}).status_code == 401

    def test_keys_are_stored_hashed(self, make_key: KeyFactory, engine: sa.Engine) -> None:
        raw = make_key("admin")
        secret = raw.split("_", 2)[2]
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM api_keys")).all()
        assert rows and all(secret not in str(tuple(r)) for r in rows)

    def test_admin_implies_every_scope(self, client: TestClient, make_key: KeyFactory) -> None:
        key = make_key("admin")
        assert client.get("/v1/signals", headers={"Authorization": f"Bearer {key}"}).status_code == 200


class TestLogs:
    def test_no_key_or_customer_text_in_logs(
        self, client: TestClient, make_key: KeyFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        key = make_key()
        caplog.set_level(logging.DEBUG)
        body = signal_body(body="Secret customer detail: budget is 4.2 MSEK", title="Confidential plan")
        client.post("/v1/signals", json=body, headers={"Authorization": f"Bearer {key}"})
        client.post("/v1/signals", json={**body, "kind": "bogus"}, headers={"Authorization": f"Bearer {key}"})
        text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
        assert "http_request" in text  # the access log did run
        for secret in (key, key.split("_", 2)[2], "4.2 MSEK", "Confidential plan", "anna.berg@ourco.se"):
            assert secret not in text


class TestKeyBoundToAContributor:
    """Guarantee 8: a contributor-facing key shows only that person's data; others' are 404, never 403."""

    def test_sees_only_own_signals_and_opportunities(
        self, client: TestClient, auth: dict[str, str], make_key: KeyFactory, engine: sa.Engine
    ) -> None:
        client.post("/v1/accounts/import", json={"accounts": [{"crm_id": "A-1", "name": "Nordkraft AB"}]}, headers=auth)
        mine = client.post(
            "/v1/signals",
            json=signal_body(contributor={"email": "me@ourco.se"}, customer={"crm_account_id": "A-1"}),
            headers=auth,
        ).json()
        theirs = client.post(
            "/v1/signals",
            json=signal_body(
                contributor={"email": "other@ourco.se"},
                customer={"crm_account_id": "A-1"},
                title="Onboarding portal for seasonal staff",
                body="HR wants digital contracts and e-signing.",
            ),
            headers=auth,
        ).json()
        assert mine["opportunity"]["id"] != theirs["opportunity"]["id"]
        with engine.connect() as conn:
            me = conn.execute(sa.text("SELECT id FROM contributors WHERE email = 'me@ourco.se'")).scalar_one()
        bound = {"Authorization": f"Bearer {make_key('signals:read', contributor_id=uuid.UUID(str(me)))}"}

        assert [s["id"] for s in client.get("/v1/signals", headers=bound).json()["items"]] == [mine["id"]]
        assert client.get(f"/v1/signals/{mine['id']}", headers=bound).status_code == 200
        assert client.get(f"/v1/signals/{theirs['id']}", headers=bound).status_code == 404
        assert client.get("/v1/signals", params={"contributor": "other@ourco.se"}, headers=bound).status_code == 404
        opps = client.get("/v1/opportunities", headers=bound).json()["items"]
        assert [o["id"] for o in opps] == [mine["opportunity"]["id"]]
        assert client.get(f"/v1/opportunities/{theirs['opportunity']['id']}", headers=bound).status_code == 404
        people = client.get("/v1/contributors", headers=bound).json()["items"]
        assert [p["email"] for p in people] == ["me@ourco.se"]
