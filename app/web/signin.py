"""Sign-in and sign-out: OpenID Connect when an issuer is configured, else one-time development links."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.core.db import transaction
from app.web.deps import SESSION_COOKIE, FormUserDep, OptionalUserDep, render, set_cookie
from app.web.oidc import OidcClient, SignInFailed
from app.web.sessions import ROLES, OidcRequest, Role, begin_oidc, consume, end_session, start_session

router = APIRouter(prefix="/app", include_in_schema=False)

STATE_COOKIE = "sp_oidc_state"
STATE_PATH = "/app/login"
Token = Annotated[str, Query(min_length=16, max_length=200)]


def safe_next(value: str | None) -> str:
    """Only a path of this app: never another site (no open redirect)."""
    if value and (value == "/app" or value.startswith("/app/")) and "\\" not in value:
        return value
    return "/app"


def _oidc(request: Request) -> OidcClient | None:
    client: OidcClient | None = request.app.state.oidc
    return client


def _signed_in(request: Request, email: str, name: str | None, role: Role, target: str | None) -> Response:
    hours: float = request.app.state.settings.web_session_hours
    with transaction(request.app.state.engine) as session:
        token = start_session(session, email, name, role, hours)
    response = RedirectResponse(safe_next(target), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token, "/app", int(hours * 3600))
    return response


def _failed(request: Request, message: str) -> Response:
    oidc = _oidc(request) is not None
    return render(request, "login.html", {"oidc": oidc, "next": "/app", "error": message}, 400)


@router.get("/login")
def login_page(
    request: Request, user: OptionalUserDep, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"oidc": _oidc(request) is not None, "next": safe_next(next)})


@router.get("/login/link")
def login_with_link(request: Request, token: Token) -> Response:
    """A one-time link from `signal-pipeline dev login-link` (only while no identity provider is configured)."""
    if _oidc(request) is not None:
        return _failed(request, "Sign-in links are off: this service signs in with its identity provider.")
    with transaction(request.app.state.engine) as session:
        link = consume(session, token, "link")
    if link is None or link.email is None or link.role is None:
        return _failed(request, "This sign-in link is unknown, used or expired. Ask for a new one.")
    return _signed_in(request, link.email, None, ROLES[ROLES.index(link.role)], link.next_path)


@router.get("/login/oidc")
def login_with_oidc(request: Request, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    client = _oidc(request)
    if client is None:
        return _failed(request, "No identity provider is configured.")
    with transaction(request.app.state.engine) as session:
        pending = begin_oidc(session, safe_next(next))
    try:
        url = client.authorization_url(str(request.url_for("oidc_callback")), pending)
    except SignInFailed as exc:
        return _failed(request, str(exc))
    response = RedirectResponse(url, status_code=303)
    # The state is also bound to this browser, so a callback URL planted in another browser signs nobody in.
    set_cookie(request, response, STATE_COOKIE, pending.state, STATE_PATH, 600)
    return response


@router.get("/login/callback", name="oidc_callback")
def oidc_callback(
    request: Request,
    state: Token,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    client = _oidc(request)
    if client is None:
        return _failed(request, "No identity provider is configured.")
    if error is not None or code is None:
        return _failed(request, "The identity provider did not sign you in.")
    if not hmac.compare_digest(request.cookies.get(STATE_COOKIE, ""), state):
        return _failed(request, "This sign-in started in another browser or expired. Try again.")
    with transaction(request.app.state.engine) as session:
        pending = consume(session, state, "oidc")
    if pending is None or pending.nonce is None or pending.code_verifier is None:
        return _failed(request, "This sign-in expired or was already used. Try again.")
    try:
        identity = client.identity(
            str(request.url_for("oidc_callback")), code, OidcRequest(state, pending.nonce, pending.code_verifier)
        )
    except SignInFailed as exc:
        return _failed(request, str(exc))
    response = _signed_in(request, identity.email, identity.name, identity.role, pending.next_path)
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH)
    return response


@router.post("/logout")
def logout(request: Request, user: FormUserDep) -> Response:
    with transaction(request.app.state.engine) as session:
        end_session(session, user.session_id)
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/app")
    return response
