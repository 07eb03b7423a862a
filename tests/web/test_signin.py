"""Development sign-in links, session cookies, CSRF and sign-out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.migrate import upgrade
from tests.web.helpers import csrf, link_token, sign_in


class TestLoginLink:
    def test_a_link_signs_in_once_and_sets_a_lax_http_only_cookie(self, web: TestClient, engine: sa.Engine) -> None:
        token = link_token(engine, "anna.berg@ourco.se")
        first = web.get(f"/app/login/link?token={token}", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/app"
        cookie = first.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/app" in cookie
        assert "secure" not in cookie  # loopback serves plain http
        assert web.get("/app").status_code == 200
        web.cookies.clear()
        again = web.get(f"/app/login/link?token={token}", follow_redirects=False)
        assert again.status_code == 400
        assert "sp_session" not in again.headers.get("set-cookie", "")

    def test_the_cookie_is_secure_outside_loopback(self, app: FastAPI, engine: sa.Engine) -> None:
        with TestClient(app, base_url="https://signals.example.com") as client:
            response = client.get(f"/app/login/link?token={link_token(engine, 'a@ourco.se')}", follow_redirects=False)
        assert "secure" in response.headers["set-cookie"].lower()

    def test_an_unknown_token_signs_nobody_in(self, web: TestClient) -> None:
        response = web.get("/app/login/link?token=" + "x" * 40, follow_redirects=False)
        assert response.status_code == 400
        assert web.get("/app", follow_redirects=False).status_code == 303

    def test_pages_carry_the_security_headers_and_api_answers_do_not(self, web: TestClient) -> None:
        page = web.get("/app/login")
        assert page.status_code == 200
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert page.headers["x-content-type-options"] == "nosniff" and page.headers["cache-control"] == "no-store"
        redirect = web.get("/app/me", follow_redirects=False)
        assert redirect.headers["referrer-policy"] == "same-origin"
        api = web.get("/healthz")
        assert api.status_code == 200 and "content-security-policy" not in api.headers

    def test_pages_redirect_to_sign_in_keeping_the_target(self, web: TestClient) -> None:
        response = web.get("/app/me", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/app/login?next=/app/me"

    def test_the_cli_prints_a_link_that_signs_in(self, tmp_path: Path, web: TestClient, db_url: str) -> None:
        url = web.app.state.settings.database_url  # type: ignore[attr-defined]
        out = subprocess.run(
            [
                Path(sys.executable).parent / "signal-pipeline",
                "dev",
                "login-link",
                "--email",
                "Per@OurCo.se",
                "--role",
                "seller",
                "--base-url",
                "http://127.0.0.1:8000",
            ],
            env={"SIGNAL_PIPELINE_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert out.startswith("http://127.0.0.1:8000/app/login/link?token=")
        assert web.get(out.removeprefix("http://127.0.0.1:8000"), follow_redirects=False).status_code == 303
        assert "per@ourco.se (seller)" in web.get("/app").text.replace("</span>", "").replace('<span class="role">', "")


class TestCsrf:
    def test_a_form_without_the_token_is_refused_and_stores_nothing(self, web: TestClient, engine: sa.Engine) -> None:
        sign_in(web, engine, "anna.berg@ourco.se")
        form = {"customer": "Nordkraft AB", "kind": "inefficiency", "title": "Invoices by hand", "body": "Typed in."}
        assert web.post("/app/signals", data=form).status_code == 403
        assert web.post("/app/signals", data={**form, "csrf_token": "forged"}).status_code == 403
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from signals")).scalar_one() == 0

    def test_another_sessions_token_is_refused(
        self, web: TestClient, other_browser: TestClient, engine: sa.Engine
    ) -> None:
        sign_in(web, engine, "anna.berg@ourco.se")
        sign_in(other_browser, engine, "per.lind@ourco.se")
        theirs = csrf(other_browser)
        assert web.post("/app/logout", data={"csrf_token": theirs}, follow_redirects=False).status_code == 403


class TestSignOut:
    def test_sign_out_ends_the_session_server_side(self, web: TestClient, engine: sa.Engine) -> None:
        sign_in(web, engine, "anna.berg@ourco.se")
        cookie = web.cookies.get("sp_session")
        token = csrf(web)
        assert web.post("/app/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
        web.cookies.set("sp_session", cookie or "", path="/app")  # a copied cookie is dead too
        assert web.get("/app", follow_redirects=False).status_code == 303


def test_migrations_create_the_web_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    with sa.create_engine(url).connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
    assert {"web_sessions", "web_sign_in_tokens"} <= names


class TestRedirectsAndRoles:
    def test_next_never_leaves_the_app(self, web: TestClient, engine: sa.Engine) -> None:
        sign_in(web, engine, "anna.berg@ourco.se")
        for target in ("https://evil.example/", "//evil.example/app", "/app\\@evil.example", "/v1/signals"):
            response = web.get("/app/login", params={"next": target}, follow_redirects=False)
            assert response.headers["location"] == "/app", target
        assert web.get("/app/login?next=/app/me", follow_redirects=False).headers["location"] == "/app/me"

    def test_the_most_privileged_known_role_wins_and_unknown_roles_grant_nothing(self) -> None:
        from app.web.sessions import role_from_claims

        assert role_from_claims(["analyst", "seller"], {}) == "seller"
        assert role_from_claims("Sales", {"Sales": "seller"}) == "seller"
        assert role_from_claims(["superuser", "root"], {}) == "contributor"
        assert role_from_claims(None, {}) == "contributor"
        assert role_from_claims({"admin": True}, {}) == "contributor"  # not a list: ignored

    def test_erasing_a_person_ends_their_sessions(
        self, web: TestClient, engine: sa.Engine, auth: dict[str, str]
    ) -> None:
        sign_in(web, engine, "anna.berg@ourco.se")
        assert web.get("/app", follow_redirects=False).status_code == 200
        assert web.delete("/v1/contributors/anna.berg@ourco.se", headers=auth).status_code == 204
        assert web.get("/app", follow_redirects=False).status_code == 303
