"""Contributor pages: home, report a signal (with the account typeahead), and "my signals"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from app.accounts.service import search as search_accounts
from app.contributors.service import feed, readable_contributor
from app.core.api import PageRequest, decode_cursor, split_page
from app.core.auth import Scope
from app.core.db import transaction
from app.core.errors import InvalidInput, field_errors
from app.signals import service as signals
from app.signals.service import IngestConfig
from app.web.deps import TYPEAHEAD_LIMIT, FormUserDep, UserDep, is_htmx, need, render
from schemas.signals import SignalCreate

router = APIRouter(prefix="/app", include_in_schema=False)

FEED_PAGE = 25

WEB_SOURCE = "web"


def _config(request: Request) -> IngestConfig:
    config: IngestConfig = request.app.state.ingest_config
    return config


@router.get("")
def home(request: Request, user: UserDep) -> Response:
    with transaction(request.app.state.engine) as session:
        me = readable_contributor(session, str(user.contributor_id), user.principal)
        latest = feed(session, me, before=None, limit=5)
    return render(request, "home.html", {"title": "Home", "latest": latest})


@router.get("/signals/new")
def new_signal(request: Request, user: UserDep) -> Response:
    need(user, Scope.signals_write, "report signals")
    return render(request, "signal_new.html", _form_context(request, {}, {}))


def _form_context(request: Request, values: dict[str, str], errors: dict[str, str]) -> dict[str, object]:
    return {"title": "Report a signal", "kinds": sorted(_config(request).kinds), "values": values, "errors": errors}


@router.post("/signals")
def submit_signal(
    request: Request,
    user: FormUserDep,
    customer: Annotated[str, Form(max_length=300)] = "",
    kind: Annotated[str, Form(max_length=40)] = "",
    title: Annotated[str, Form(max_length=200)] = "",
    body: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    """The same intake as POST /v1/signals; the answer shows the attribution and the opportunity at once. The form
    has no contributor field: a person always reports as themselves, so ``check_authors`` has nothing to refuse."""
    need(user, Scope.signals_write, "report signals")
    values = {"customer": customer, "kind": kind, "title": title, "body": body}
    payload = {
        "contributor": {"email": user.email, "name": user.name},
        "customer": {"name": customer.strip() or None},
        "kind": kind,
        "title": title.strip(),
        "body": body.strip(),
        "source": {"system": WEB_SOURCE},
    }
    try:
        data = SignalCreate.model_validate(payload)
        with transaction(request.app.state.engine) as session:
            result = signals.ingest(session, _config(request), data, None)
    except ValidationError as exc:
        return _form_errors(request, values, {e.field: e.reason for e in field_errors(exc.errors())})
    except InvalidInput as exc:
        return _form_errors(request, values, {e.field: e.reason for e in exc.errors or []})
    context = {"title": "Signal reported", "signal": result.read, "created": result.created}
    return render(request, "_signal_result.html" if is_htmx(request) else "signal_result.html", context, 201)


def _form_errors(request: Request, values: dict[str, str], errors: dict[str, str]) -> Response:
    # Field names of the API ("customer.name", "contributor.email") name the form's inputs here.
    by_input = {key.split(".")[0]: reason for key, reason in errors.items()}
    template = "_signal_form.html" if is_htmx(request) else "signal_new.html"
    return render(request, template, _form_context(request, values, by_input), 422)


@router.get("/accounts/options")
def account_options(request: Request, user: UserDep, customer: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Typeahead: <option>s of the account directory matching what was typed (the API's account search)."""
    need(user, Scope.accounts_read, "search accounts")
    accounts = []
    if len(customer.strip()) >= 2:
        with transaction(request.app.state.engine) as session:
            accounts = search_accounts(session, customer, None, TYPEAHEAD_LIMIT)
    return render(request, "_account_options.html", {"accounts": accounts})


@router.get("/me")
def my_signals(request: Request, user: UserDep, cursor: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    paging = PageRequest(decode_cursor(cursor), FEED_PAGE)
    with transaction(request.app.state.engine) as session:
        me = readable_contributor(session, str(user.contributor_id), user.principal)
        items = feed(session, me, before=paging.before, limit=paging.fetch)
    page, more = split_page(items, paging, lambda item: item.signal_id)
    return render(request, "me.html", {"title": "My signals", "items": page, "next_cursor": more})
