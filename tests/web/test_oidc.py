"""OpenID Connect sign-in against a local issuer over real HTTP: code flow with PKCE, signed ID tokens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from joserfc.jwk import RSAKey

from app.core.settings import Settings
from app.main import create_app
from tests.conftest import LiveServer, free_port
from tests.web.oidc_issuer import CLIENT_ID, CLIENT_SECRET, Issuer


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    issuer = Issuer()
    port = free_port()
    issuer.url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(issuer.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "issuer did not start"
        time.sleep(0.02)
    yield issuer
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def site(db_url: str, issuer: Issuer) -> Iterator[str]:
    settings = Settings(
        database_url=db_url,
        log_format="text",
        oidc_issuer=issuer.url,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_role_map={"Sales": "seller"},
    )
    with LiveServer(create_app(settings)) as server:
        yield server.url


@pytest.fixture
def browser(site: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site, follow_redirects=True, timeout=10) as client:
        yield client


def _sign_in(browser: httpx.Client) -> httpx.Response:
    return browser.get("/app/login/oidc?next=/app/me")


class TestOidcSignIn:
    def test_the_code_flow_signs_in_the_person_the_id_token_names(
        self, site: str, issuer: Issuer, browser: httpx.Client
    ) -> None:
        issuer.person = {"email": "Anna.Berg@OurCo.se", "email_verified": True, "name": "Anna Berg", "roles": ["Sales"]}
        page = _sign_in(browser)
        assert page.status_code == 200 and str(page.url) == f"{site}/app/me"
        assert "Anna Berg" in page.text and "(seller)" in page.text
        assert 'href="/app/review"' in page.text  # the mapped role's pages
        assert "sp_oidc_state" not in browser.cookies  # the state cookie is spent

    def test_a_person_without_roles_is_a_contributor(self, issuer: Issuer, browser: httpx.Client) -> None:
        issuer.person = {"email": "per.lind@ourco.se"}
        page = _sign_in(browser)
        assert "(contributor)" in page.text and 'href="/app/review"' not in page.text

    @pytest.mark.parametrize(
        "fault",
        ["wrong_key", "wrong_audience", "unverified_email", "no_email"],
    )
    def test_an_id_token_that_fails_verification_signs_nobody_in(
        self, issuer: Issuer, browser: httpx.Client, fault: str
    ) -> None:
        issuer.person = {"email": "anna.berg@ourco.se"}
        if fault == "wrong_key":
            issuer.signing_key = RSAKey.generate_key(2048)
        elif fault == "wrong_audience":
            issuer.audience = "someone-else"
        elif fault == "unverified_email":
            issuer.person["email_verified"] = False
        else:
            issuer.person = {}
        page = _sign_in(browser)
        assert page.status_code == 400 and "Sign in" in page.text
        assert "sp_session" not in browser.cookies
        assert browser.get("/app", follow_redirects=False).status_code == 303

    def test_a_callback_from_another_browser_is_refused(self, site: str, issuer: Issuer) -> None:
        issuer.person = {"email": "anna.berg@ourco.se"}
        victim = httpx.Client(base_url=site, timeout=10)
        start = victim.get("/app/login/oidc")
        at_issuer = httpx.get(start.headers["location"], timeout=10)
        callback = at_issuer.headers["location"]
        with httpx.Client(timeout=10) as attacker:  # no state cookie: this browser did not start the sign-in
            answer = attacker.get(callback)
        assert answer.status_code == 400 and "sp_session" not in answer.cookies
        assert issuer.token_requests == 0
        victim.close()

    def test_sign_in_links_are_off_when_an_issuer_is_configured(self, site: str) -> None:
        page = httpx.get(f"{site}/app/login/link?token=" + "x" * 32, timeout=10)
        assert page.status_code == 400 and "Sign-in links are off" in page.text
