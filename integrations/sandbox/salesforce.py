"""A local, wire-compatible Salesforce: the REST subset the Salesforce adapter uses, plus control endpoints.

Served routes (``vXX.X`` is any version; sObject Collections upsert needs 46.0+ as in the real API):

- ``POST /services/oauth2/token``: OAuth password grant (``client_id``/``client_secret`` form fields) and
  client-credentials grant (HTTP Basic), as simple-salesforce's ``token_login`` sends them.
- ``/services/data/vXX.X/``: ``sobjects/{obj}/describe``, ``composite/sobjects/{obj}/{extField}``
  (PATCH upsert), ``composite/sobjects`` (POST create), ``composite`` (POST, subrequests of the above
  and queries),
  ``query?q=`` and ``query/{locator}``, ``jobs/ingest`` (Bulk API 2.0), ``tooling/sobjects/CustomField``,
  ``limits``.
- ``/_sandbox/...``: reset, faults, seed, list opportunities, set stage, call counts, expire sessions.

Every ``/services/data`` response carries ``Sforce-Limit-Info: api-usage=used/total``; an exhausted
allocation answers 403 ``REQUEST_LIMIT_EXCEEDED``; an unknown or revoked bearer token answers 401
``INVALID_SESSION_ID``. Scripted faults (``integrations.sandbox.control.FaultKind``) apply per request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from integrations.sandbox.control import Fault, FaultKind
from integrations.sandbox.salesforce_state import (
    DEFAULT_STAGES,
    OpportunityStage,
    RecordError,
    RequestError,
    SalesforceSandboxState,
)

__all__ = ["DEFAULT_STAGES", "OpportunityStage", "SalesforceSandboxState", "create_salesforce_sandbox"]

_DATA_PATH = re.compile(r"^/services/data/v(?P<version>\d+\.\d)/(?P<rest>.*)$")
_REQUEST_FAULTS = (
    FaultKind.server_error,
    FaultKind.rate_limit,
    FaultKind.timeout_after_commit,
    FaultKind.latency,
    FaultKind.expired_session,
)
_MAX_COMPOSITE_SUBREQUESTS = 25
_MAX_COMPOSITE_COLLECTIONS_OR_QUERIES = 5


class _Reply:
    """What one handler answers: a status and a JSON (or CSV text) body."""

    def __init__(self, status: int, body: Any = None, *, text: str | None = None) -> None:
        self.status = status
        self.body = body
        self.text = text

    def response(self, headers: dict[str, str]) -> Response:
        if self.text is not None:
            return Response(self.text, status_code=self.status, media_type="text/csv", headers=headers)
        if self.status == 204 or (self.body is None and self.status == 201):
            return Response(status_code=self.status, headers=headers)
        return JSONResponse(self.body, status_code=self.status, headers=headers)


def create_salesforce_sandbox(
    state: SalesforceSandboxState | None = None, **state_options: Any
) -> tuple[FastAPI, SalesforceSandboxState]:
    """Build the sandbox app and its state (a new ``SalesforceSandboxState(**state_options)`` by default)."""
    st = state if state is not None else SalesforceSandboxState(**state_options)
    app = FastAPI(title="Salesforce sandbox", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/services/oauth2/token")
    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != st.client_id or client_secret != st.client_secret:
            return JSONResponse(
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
                status_code=400,
            )
        grant = form.get("grant_type")
        if grant == "password":
            if form.get("username") != st.username or form.get("password") != st.password + st.security_token:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "authentication failure"}, status_code=400
                )
        elif grant != "client_credentials":
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
                status_code=400,
            )
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "access_token": st.issue_token(),
                "instance_url": base,
                "id": f"{base}/id/00D000000000001AAA/{st.integration_user_id}",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
                "signature": base64.b64encode(b"sandbox").decode(),
            }
        )

    @app.api_route("/services/data/{rest:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
    async def data_api(request: Request, rest: str) -> Response:
        path = request.url.path
        fault = st.take_fault(path, _REQUEST_FAULTS)
        within_limit = st.count_call(path)
        token = _bearer(request)

        def headers() -> dict[str, str]:
            # Read after the work, so the header shows this call counted.
            return {"Sforce-Limit-Info": st.limit_info()}

        if not st.check_token(token):
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid", headers())
        if not within_limit or (fault is not None and fault.kind is FaultKind.rate_limit):
            return _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", headers())
        if fault is not None and fault.kind is FaultKind.expired_session:
            # The session really is gone: a client that retries without re-authenticating fails again.
            st.revoke_token(token)
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid", headers())
        if fault is not None and fault.kind is FaultKind.server_error:
            status = fault.status or 500
            code = str(fault.extra.get("error_code", "UNKNOWN_EXCEPTION" if status >= 500 else "UNABLE_TO_LOCK_ROW"))
            message = str(fault.extra.get("message", "An unexpected error occurred. ErrorId: 1234-5678 (-1)"))
            hdrs = headers()
            if fault.retry_after is not None:
                hdrs["Retry-After"] = str(int(fault.retry_after))
            return _error(status, code, message, hdrs)
        if fault is not None and fault.kind is FaultKind.latency:
            await asyncio.sleep(fault.seconds)
        body = await request.body()
        reply = _dispatch(st, request.method, path, body, request.headers.get("content-type", ""), request.query_params)
        if fault is not None and fault.kind is FaultKind.timeout_after_commit:
            # The work is committed; the answer arrives after the client has given up.
            await asyncio.sleep(fault.seconds or 5.0)
        return reply.response(headers())

    @app.exception_handler(RecordError)
    async def record_error(request: Request, exc: RecordError) -> Response:
        # Only control endpoints get here (e.g. set_stage to an unknown stage); API routes answer per record.
        return JSONResponse([exc.as_json()], status_code=400)

    @app.exception_handler(KeyError)
    async def unknown_record(request: Request, exc: KeyError) -> Response:
        return JSONResponse([{"errorCode": "NOT_FOUND", "message": "No such record"}], status_code=404)

    _control_routes(app, st)
    return app, st


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:] if auth.startswith("Bearer ") else None


def _error(status: int, code: str, message: str, headers: dict[str, str]) -> Response:
    return JSONResponse([{"message": message, "errorCode": code}], status_code=status, headers=headers)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise RequestError(400, "JSON_PARSER_ERROR", "Unexpected character in the request body") from exc


def _dispatch(
    st: SalesforceSandboxState,
    method: str,
    path: str,
    body: bytes,
    content_type: str,
    params: Any,
    *,
    in_composite: bool = False,
) -> _Reply:
    """Route one (sub)request to the state; whole-request errors become Salesforce error arrays."""
    m = _DATA_PATH.match(path.split("?", 1)[0])
    if m is None:
        return _Reply(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
    version, rest = m.group("version"), m.group("rest").rstrip("/")
    parts = rest.split("/")
    try:
        handler = _route(st, method, parts, version, in_composite)
        if handler is None:
            raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
        return handler(body, content_type, params)
    except RequestError as err:
        return _Reply(err.status, err.as_json())


_Handler = Callable[[bytes, str, Any], _Reply]


def _route(
    st: SalesforceSandboxState, method: str, parts: list[str], version: str, in_composite: bool
) -> _Handler | None:
    n = len(parts)
    if method == "GET" and n == 3 and parts[0] == "sobjects" and parts[2] == "describe":
        return lambda b, c, p: _Reply(200, st.describe(parts[1]))
    if method == "POST" and n == 2 and parts[0] == "sobjects":
        return lambda b, c, p: _Reply(201, {"id": st.create_record(parts[1], _json(b)), "success": True, "errors": []})
    if parts[:2] == ["composite", "sobjects"]:
        if float(version) < 42.0 or (n == 4 and float(version) < 46.0):
            return None
        if method == "PATCH" and n == 4:
            return lambda b, c, p: _Reply(200, st.collection_upsert(parts[2], parts[3], _json(b)))
        if method == "POST" and n == 2:
            return lambda b, c, p: _Reply(200, st.collection_create(_json(b)))
        if method == "PATCH" and n == 2:
            return lambda b, c, p: _Reply(200, st.collection_update(_json(b)))
        return None
    if method == "POST" and parts == ["composite"] and not in_composite:
        return lambda b, c, p: _composite(st, _json(b), version)
    if method == "GET" and parts == ["query"]:
        return lambda b, c, p: _query(st, p, version)
    if method == "GET" and n == 2 and parts[0] == "query":
        return lambda b, c, p: _Reply(200, st.query_more(parts[1], version))
    if parts == ["limits"] and method == "GET":
        return lambda b, c, p: _Reply(
            200,
            {"DailyApiRequests": {"Max": st.daily_api_limit, "Remaining": st.daily_api_limit - st.api_used}},
        )
    if parts == ["tooling", "sobjects", "CustomField"] and method == "POST":
        return lambda b, c, p: _custom_field(st, _json(b))
    if in_composite or parts[:2] != ["jobs", "ingest"]:
        return None
    if n == 2 and method == "POST":
        return lambda b, c, p: _Reply(200, st.create_job(_json(b), version))
    if n == 3 and method == "GET":
        return lambda b, c, p: _Reply(200, st.job_info(parts[2]))
    if n == 3 and method == "PATCH":
        return lambda b, c, p: _Reply(200, st.set_job_state(parts[2], str((_json(b) or {}).get("state"))))
    if n == 3 and method == "DELETE":
        return lambda b, c, p: _Reply(204)
    if n == 4 and parts[3] == "batches" and method == "PUT":

        def upload(b: bytes, c: str, p: Any) -> _Reply:
            if not c.startswith("text/csv"):
                raise RequestError(400, "INVALIDCONTENTTYPE", "Content-Type must be text/csv")
            st.upload_job_data(parts[2], b.decode("utf-8"))
            return _Reply(201)

        return upload
    if n == 4 and method == "GET" and parts[3] in ("successfulResults", "failedResults", "unprocessedrecords"):
        return lambda b, c, p: _Reply(200, text=st.job_results(parts[2], parts[3]))
    return None


def _query(st: SalesforceSandboxState, params: Any, version: str) -> _Reply:
    q = params.get("q") if params is not None else None
    if not q:
        raise RequestError(400, "MALFORMED_QUERY", "A query string is required")
    return _Reply(200, st.query(str(q), version))


def _custom_field(st: SalesforceSandboxState, body: Any) -> _Reply:
    if not isinstance(body, dict) or not isinstance(body.get("FullName"), str):
        raise RequestError(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [FullName]", ["FullName"])
    crm_id = st.create_custom_field(body["FullName"], body.get("Metadata") or {})
    return _Reply(201, {"id": crm_id, "success": True, "errors": [], "warnings": [], "infos": []})


def _composite(st: SalesforceSandboxState, body: Any, version: str) -> _Reply:
    """``POST composite``: serial subrequests, one API call; allOrNone rolls every subrequest back."""
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise RequestError(400, "JSON_PARSER_ERROR", "compositeRequest is required")
    subs = body["compositeRequest"]
    if len(subs) > _MAX_COMPOSITE_SUBREQUESTS:
        raise RequestError(400, "INVALID_BATCH_REQUEST", "Composite requests can hold at most 25 subrequests")
    heavy = sum(1 for s in subs if "/composite/sobjects" in str(s.get("url")) or "/query" in str(s.get("url")))
    if heavy > _MAX_COMPOSITE_COLLECTIONS_OR_QUERIES:
        raise RequestError(400, "INVALID_BATCH_REQUEST", "At most 5 subrequests may be sObject Collections or queries")
    all_or_none = bool(body.get("allOrNone", False))
    with st.lock:
        snapshot = (
            st.objects if not all_or_none else {k: {i: dict(r) for i, r in v.items()} for k, v in st.objects.items()}
        )
        out: list[dict[str, Any]] = []
        failed = False
        for sub in subs:
            url = str(sub.get("url", ""))
            path, _, query = url.partition("?")
            params = {k: v[0] for k, v in parse_qs(query).items()}
            raw = json.dumps(sub.get("body")).encode() if sub.get("body") is not None else b""
            reply = _dispatch(
                st,
                str(sub.get("method", "GET")).upper(),
                path,
                raw,
                "application/json",
                params,
                in_composite=True,
            )
            failed = failed or reply.status >= 400
            out.append(
                {
                    "body": reply.body,
                    "httpHeaders": {},
                    "httpStatusCode": reply.status,
                    "referenceId": sub.get("referenceId"),
                }
            )
        if all_or_none and failed:
            st.objects = snapshot
            rolled = [
                {
                    "errorCode": "PROCESSING_HALTED",
                    "message": "The transaction was rolled back since another operation in the same "
                    "transaction failed.",
                }
            ]
            out = [o if o["httpStatusCode"] >= 400 else {**o, "body": rolled, "httpStatusCode": 400} for o in out]
    return _Reply(200, {"compositeResponse": out})


def _control_routes(app: FastAPI, st: SalesforceSandboxState) -> None:
    """Control endpoints, so another process (CLI, e2e tests) can drive the sandbox over HTTP."""

    @app.post("/_sandbox/reset")
    async def reset() -> dict[str, bool]:
        st.reset()
        return {"ok": True}

    @app.post("/_sandbox/faults")
    async def add_fault(request: Request) -> dict[str, bool]:
        data = await request.json()
        data["kind"] = FaultKind(data["kind"])
        st.add_fault(Fault(**data))
        return {"ok": True}

    @app.post("/_sandbox/accounts")
    async def seed_account(request: Request) -> dict[str, str]:
        data = await request.json()
        return {"id": st.seed_account(data["name"], data.get("domain"), data.get("owner_email"))}

    @app.patch("/_sandbox/records/{sobject}/{crm_id}")
    async def update_record(sobject: str, crm_id: str, request: Request) -> dict[str, bool]:
        st.update_record(sobject, crm_id, await request.json())
        return {"ok": True}

    @app.post("/_sandbox/users")
    async def seed_user(request: Request) -> dict[str, str]:
        data = await request.json()
        return {"id": st.seed_user(data["email"], data.get("name"), bool(data.get("active", True)))}

    @app.get("/_sandbox/opportunities")
    async def opportunities() -> list[dict[str, Any]]:
        return [
            {
                "crm_id": o.crm_id,
                "opportunity_id": o.opportunity_id,
                "account_crm_id": o.account_crm_id,
                "owner_crm_id": o.owner_crm_id,
                "properties": o.properties,
                "collaborator_ids": list(o.collaborator_ids),
            }
            for o in st.opportunities()
        ]

    @app.post("/_sandbox/opportunities/{crm_id}/stage")
    async def set_stage(crm_id: str, request: Request) -> dict[str, bool]:
        data = await request.json()
        st.set_stage(crm_id, data["stage"], data.get("amount"))
        return {"ok": True}

    @app.get("/_sandbox/calls")
    async def calls(path_prefix: str | None = None) -> dict[str, int]:
        return {"count": st.call_count(path_prefix)}

    @app.post("/_sandbox/expire-sessions")
    async def expire_sessions() -> dict[str, bool]:
        st.expire_sessions()
        return {"ok": True}
