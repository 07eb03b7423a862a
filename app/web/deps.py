"""Web request plumbing: the signed-in user, CSRF checks, cookies, rendering, and HTML error pages."""

from __future__ import annotations

import hmac
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as ASGIScope

from app.core.auth import Scope
from app.core.errors import AppError
from app.web.sessions import WebUser, load_user

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

SESSION_COOKIE = "sp_session"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TYPEAHEAD_LIMIT = 10  # accounts offered while typing

# Every asset is served by this service: a page can load nothing from anywhere else.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in page."""


class WebForbidden(Exception):
    """Signed in, but the role does not allow this page."""

    def __init__(self, need: str) -> None:
        super().__init__(need)
        self.need = need


class CsrfRejected(Exception):
    """An unsafe request without the session's CSRF token."""


def secure_cookies(request: Request) -> bool:
    """Secure cookies everywhere but on loopback, where plain http is the embedded default."""
    return (request.url.hostname or "") not in LOOPBACK


def set_cookie(request: Request, response: Response, name: str, value: str, path: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=path, httponly=True, secure=secure_cookies(request), samesite="lax"
    )


def optional_user(request: Request) -> WebUser | None:
    raw = request.cookies.get(SESSION_COOKIE)
    user = load_user(request.app.state.engine, raw) if raw else None
    request.state.web_user = user
    return user


def current_user(request: Request) -> WebUser:
    user = optional_user(request)
    if user is None:
        raise SignInRequired
    return user


async def csrf_checked_user(request: Request) -> WebUser:
    """The user of an unsafe request that carries the session's CSRF token (form field or htmx header)."""
    user = current_user(request)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None:
            form = await request.form()  # Starlette caches the parsed form for the route's own Form fields
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if sent is None or not hmac.compare_digest(sent, user.csrf_token):
            raise CsrfRejected
    return user


UserDep = Annotated[WebUser, Depends(current_user)]
OptionalUserDep = Annotated[WebUser | None, Depends(optional_user)]
FormUserDep = Annotated[WebUser, Depends(csrf_checked_user)]


def need(user: WebUser, scope: Scope, what: str) -> None:
    if not user.has(scope):
        raise WebForbidden(what)


def need_company_reports(user: WebUser) -> None:
    """The API's rule for company-wide reports (``Principal.reads_company_reports``), answered with the web's page."""
    if not user.principal.reads_company_reports():
        raise WebForbidden("read company-wide reports")


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    user: WebUser | None = getattr(request.state, "web_user", None)
    base = {"user": user, "csrf_token": user.csrf_token if user else "", "path": request.url.path, "Scope": Scope}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def _is_page(path: str) -> bool:
    return path == "/app" or path.startswith("/app/")


def _page_path(request: Request) -> bool:
    return _is_page(request.url.path)


class SecurityHeaders:
    """The pages' security headers. Plain ASGI, not ``@app.middleware("http")``: that wraps every request, API
    calls included, in a task and a streamed body, a cost each signal paid although only pages get headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_page(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _call(handler: Callable[..., Any], request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    response: Response = await result if inspect.isawaitable(result) else result
    return response


def install_web_errors(app: FastAPI) -> None:
    """HTML answers for the pages (the API keeps its problem+json): sign-in redirects, 403, 404, 4xx pages."""
    api_app_error = app.exception_handlers[AppError]
    api_http_error = app.exception_handlers[StarletteHTTPException]

    async def sign_in(request: Request, exc: Exception) -> Response:
        target = "/app/login?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if is_htmx(request):  # htmx follows HX-Redirect with a full page load
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        what = exc.need if isinstance(exc, WebForbidden) else ""
        return render(request, "error.html", {"title": "Not allowed", "message": f"Your role cannot {what}."}, 403)

    async def csrf(request: Request, exc: Exception) -> Response:
        message = "The form was out of date. Reload the page and try again."
        return render(request, "error.html", {"title": "Form expired", "message": message}, 403)

    async def app_error(request: Request, exc: Exception) -> Response:
        if not _page_path(request) or not isinstance(exc, AppError):
            return await _call(api_app_error, request, exc)
        title = "Not found" if exc.status == 404 else "Cannot do that"
        return render(request, "error.html", {"title": title, "message": exc.detail or exc.title}, exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        if not _page_path(request) or not isinstance(exc, StarletteHTTPException):
            return await _call(api_http_error, request, exc)
        title = "Not found" if exc.status_code == 404 else "Cannot do that"
        return render(request, "error.html", {"title": title, "message": str(exc.detail)}, exc.status_code)

    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(WebForbidden, forbidden)
    app.add_exception_handler(CsrfRejected, csrf)
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
