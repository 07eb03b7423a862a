"""HTTP surface of the account directory."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.accounts import service
from app.accounts.directory import AccountDirectory
from app.core.api import EngineDep, PageDep, SessionDep, problems, read_body_as, split_page
from app.core.auth import AccountsReadKey, AccountsWriteKey
from app.core.db import transaction
from app.core.errors import invalid
from schemas.accounts import AccountImport, AccountIn, AccountRead, ImportResult
from schemas.common import Page

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

IMPORT_BODY = read_body_as(
    AccountImport,
    AccountIn,
    other={
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "header row with crm_id,name,... ; aliases and domains separated by ';'",
            }
        },
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
        },
    },
)


async def _rows(request: Request) -> list[dict[str, Any]]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        try:
            form = await request.form()
        except StarletteHTTPException:
            # Starlette answers a body it cannot parse as multipart (no boundary, truncated parts) with a bare 400.
            raise invalid("file", "not valid multipart/form-data", "multipart_invalid") from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise invalid("file", "upload the CSV as the form field 'file'", "missing_file")
        return service.rows_from_csv(await upload.read(), "file")
    raw = await request.body()
    if ctype in ("text/csv", "application/csv"):
        return service.rows_from_csv(raw, "body")
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid("body", "not valid JSON", "json_invalid") from None
    data = AccountImport.model_validate(payload)
    return [dict(row) for row in data.accounts]


@router.post(
    "/import",
    response_model=ImportResult,
    responses=problems(401, 403, 413, 422),
    openapi_extra=IMPORT_BODY,
    summary="Upsert accounts by CRM id, from JSON or CSV; a result per row",
)
async def import_accounts(request: Request, engine: EngineDep, key: AccountsWriteKey) -> ImportResult:
    rows = await _rows(request)
    directory: AccountDirectory = request.app.state.directory

    def work() -> ImportResult:
        with transaction(engine) as session:
            result = service.import_accounts(session, rows)
        if result.created or result.updated:
            directory.refresh(engine)
        return result

    return await run_in_threadpool(work)


@router.get("", response_model=Page[AccountRead], responses=problems(401, 403, 422))
def list_accounts(
    session: SessionDep,
    key: AccountsReadKey,
    paging: PageDep,
    q: Annotated[str | None, Query(max_length=200, description="part of a name, alias, domain, or a CRM id")] = None,
) -> Page[AccountRead]:
    rows = service.search(session, q, paging.before, paging.fetch)
    page, next_cursor = split_page(rows, paging, lambda a: a.id)
    return Page(items=[AccountRead.model_validate(a, from_attributes=True) for a in page], next_cursor=next_cursor)


@router.get("/{ref}", response_model=AccountRead, responses=problems(401, 403, 404))
def get_account(ref: str, session: SessionDep, key: AccountsReadKey) -> AccountRead:
    return AccountRead.model_validate(service.resolve_account(session, ref), from_attributes=True)
