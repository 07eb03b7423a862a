"""Seller and reviewer pages: the attribution queue with one-click assignment, the duplicate queue with one-click
accept or reject, and the opportunity page.

Each action calls the service the REST API calls (``signals.service.assign`` for POST /v1/signals/{id}/account,
``duplicates.service.accept``/``reject`` for POST /v1/review/duplicates/{id}/accept|reject), under the same
authorization rules.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from app.accounts.service import resolve_account
from app.accounts.service import search as search_accounts
from app.core.api import PageRequest, decode_cursor, split_page
from app.core.auth import Scope
from app.core.db import transaction
from app.core.errors import AppError, InvalidInput
from app.duplicates import service as duplicates
from app.opportunities import service as opportunities
from app.opportunities.detail import detail
from app.signals import service as signals
from app.web.deps import TYPEAHEAD_LIMIT, FormUserDep, UserDep, is_htmx, need, render

router = APIRouter(prefix="/app", include_in_schema=False)

QUEUE_PAGE = 20


@router.get("/review")
def review(
    request: Request,
    user: UserDep,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    dcursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    need(user, Scope.signals_write, "work the review queues")
    paging = PageRequest(decode_cursor(cursor), QUEUE_PAGE)
    dpaging = PageRequest(decode_cursor(dcursor), QUEUE_PAGE)
    with transaction(request.app.state.engine) as session:
        rows = signals.review_queue(session, user.principal, paging.before, paging.fetch)
        drows = duplicates.queue(session, user.principal, dpaging.before, dpaging.fetch)
    items, next_cursor = split_page(rows, paging, lambda item: item.signal.id)
    dupes, next_dcursor = split_page(drows, dpaging, lambda item: item.signal.id)
    context = {"items": items, "next_cursor": next_cursor, "duplicates": dupes, "next_dcursor": next_dcursor}
    return render(request, "review.html", {"title": "Review", **context})


@router.post("/review/duplicates/{signal_id}/{action}")
def decide_duplicate(
    request: Request,
    signal_id: uuid.UUID,
    action: Literal["accept", "reject"],
    user: FormUserDep,
    opportunity_id: Annotated[uuid.UUID | None, Form()] = None,
) -> Response:
    """Accept (the signal's opportunity merges into the candidate) or reject one duplicate candidate."""
    need(user, Scope.signals_write, "decide duplicates")
    principal = user.principal
    try:
        with transaction(request.app.state.engine) as session:
            signal = signals.get(session, signal_id, principal)
            if action == "accept":
                if opportunity_id is None:
                    raise InvalidInput("opportunity_id: required to accept", code="missing")
                target = duplicates.accept(
                    session, signal, opportunity_id, principal.name, request.app.state.ingest_config.crm
                )
            else:
                duplicates.reject(session, signal, opportunity_id, principal.name)
                target = None
            context = {"signal": signals.to_read(session, signal), "target": target, "action": action}
    except AppError as exc:
        if not is_htmx(request) or exc.status >= 500:
            raise
        return render(request, "_review_error.html", {"signal_id": signal_id, "message": exc.detail or exc.title})
    if is_htmx(request):
        return render(request, "_duplicate_done.html", context)
    return render(request, "review_done.html", {"title": "Review", "fragment": "_duplicate_done.html", **context})


@router.post("/review/attribution/{signal_id}")
def assign_account(
    request: Request, signal_id: uuid.UUID, user: FormUserDep, account: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """Assign the account (id or CRM id) of a signal waiting for review; it then joins or opens an opportunity."""
    need(user, Scope.signals_write, "assign accounts")
    principal = user.principal
    try:
        with transaction(request.app.state.engine) as session:
            signal = signals.get(session, signal_id, principal)
            chosen = resolve_account(session, account.strip())
            opp = signals.assign(session, request.app.state.ingest_config, signal, chosen, principal.name)
            context = {"signal": signals.to_read(session, signal), "opportunity": opp, "account": chosen}
    except AppError as exc:
        if not is_htmx(request) or exc.status >= 500:
            raise
        return render(request, "_review_error.html", {"signal_id": signal_id, "message": exc.detail or exc.title})
    if is_htmx(request):
        return render(request, "_review_done.html", context)
    return render(request, "review_done.html", {"title": "Review", **context})


@router.get("/opportunities/{opportunity_id}")
def opportunity(request: Request, opportunity_id: uuid.UUID, user: UserDep) -> Response:
    """An opportunity with its signals, credited contributors and CRM link (404 for a contributor not on it)."""
    with transaction(request.app.state.engine) as session:
        read = detail(session, opportunities.get(session, opportunity_id, user.principal), user.principal)
    return render(request, "opportunity.html", {"title": read.title, "opp": read})


@router.get("/review/account-options")
def account_options(request: Request, user: UserDep, account: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Typeahead for the assign form: accounts matching the text, offered by CRM id (what assignment takes)."""
    need(user, Scope.accounts_read, "search accounts")
    found = []
    if len(account.strip()) >= 2:
        with transaction(request.app.state.engine) as session:
            found = search_accounts(session, account, None, TYPEAHEAD_LIMIT)
    return render(request, "_account_options.html", {"accounts": found, "by_crm_id": True})
