"""A local HubSpot: the subset of HubSpot's CRM API the adapter uses, spoken faithfully over HTTP.

``create_hubspot_sandbox()`` returns a FastAPI app and its state. The app can be mounted inside another app
(the service mounts it at e.g. ``/sandbox/hubspot``) or served alone::

    python -m integrations.sandbox.hubspot --port 8765 --token sandbox-token

Tests and the CLI drive it through the state object (``SandboxControl``) in-process, or through the
``/_sandbox/`` control endpoints from another process (see ``hubspot_control.HubSpotSandboxClient``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from integrations.sandbox.control import Fault, FaultKind
from integrations.sandbox.hubspot_state import (
    HubSpotHTTPError,
    HubSpotSandboxConfig,
    HubSpotSandboxState,
    error_body,
)

__all__ = [
    "HubSpotSandboxConfig",
    "HubSpotSandboxState",
    "create_hubspot_sandbox",
    "seed_demo",
    "sign_webhook_v3",
]

CONTROL_PREFIX = "/_sandbox"


def _route_path(request: Request) -> str:
    """The path below the mount point, so faults and counters work the same mounted or alone."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise HubSpotHTTPError(400, error_body("VALIDATION_ERROR", "Invalid input JSON")) from exc
    if not isinstance(body, dict):
        raise HubSpotHTTPError(400, error_body("VALIDATION_ERROR", "Invalid input JSON"))
    return body


def _answer(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _properties_param(request: Request) -> list[str]:
    # The SDK repeats `properties=`; HubSpot also takes one comma-separated value.
    return [p for raw in request.query_params.getlist("properties") for p in raw.split(",") if p]


def create_hubspot_sandbox(
    config: HubSpotSandboxConfig | None = None, state: HubSpotSandboxState | None = None
) -> tuple[FastAPI, HubSpotSandboxState]:
    """Build the sandbox app over a (new or given) state; the state implements ``SandboxControl``."""
    st = state or HubSpotSandboxState(config)
    app = FastAPI(title="HubSpot sandbox", openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(HubSpotHTTPError)
    async def _hubspot_error(request: Request, exc: HubSpotHTTPError) -> Response:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.middleware("http")
    async def _admission(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = _route_path(request)
        if path.startswith(CONTROL_PREFIX):
            return await call_next(request)
        adm = st.admit(request.method, path, request.headers.get("authorization"))
        headers = {**adm.headers, "X-HubSpot-Correlation-Id": error_body("", "")["correlationId"]}
        if adm.error is not None:
            return JSONResponse(adm.error.body, status_code=adm.error.status, headers={**headers, **adm.error.headers})
        if adm.delay_before:
            await asyncio.sleep(adm.delay_before)
        response = await call_next(request)
        if adm.stall_after:
            # The work is committed; now stall past the client's read timeout, like a lost response.
            await asyncio.sleep(adm.stall_after)
        for k, v in headers.items():
            response.headers.setdefault(k, v)
        return response

    # ---- HubSpot API ------------------------------------------------------------------------------------

    @app.post("/crm/v3/objects/{object_type}/batch/upsert")
    async def batch_upsert(object_type: str, request: Request) -> Response:
        _deals_only(object_type)
        body = await _json(request)
        if request.query_params.get("idProperty"):
            body.setdefault("idProperty", request.query_params["idProperty"])
        return _answer(*st.batch_upsert(_route_path(request), body))

    @app.post("/crm/v3/objects/{object_type}/batch/create")
    async def batch_create(object_type: str, request: Request) -> Response:
        _deals_only(object_type)
        return _answer(*st.batch_create(_route_path(request), await _json(request)))

    @app.post("/crm/v3/objects/{object_type}/batch/read")
    async def batch_read(object_type: str, request: Request) -> Response:
        _deals_only(object_type)
        return _answer(*st.batch_read(await _json(request)))

    @app.post("/crm/v3/objects/{object_type}/merge")
    async def merge(object_type: str, request: Request) -> Response:
        _deals_only(object_type)
        return _answer(200, st.merge_deals(await _json(request)))

    @app.get("/crm/v3/objects/{object_type}")
    async def list_objects(object_type: str, request: Request) -> Response:
        _companies_only(object_type)
        q = request.query_params
        return _answer(
            200,
            st.companies_page(
                after=q.get("after"), limit=int(q.get("limit", "10")), properties=_properties_param(request)
            ),
        )

    @app.post("/crm/v3/objects/{object_type}/search")
    async def search(object_type: str, request: Request) -> Response:
        _companies_only(object_type)
        return _answer(200, st.search_companies(await _json(request)))

    @app.get("/crm/v3/owners")
    @app.get("/crm/v3/owners/")
    async def owners(request: Request) -> Response:
        q = request.query_params
        return _answer(
            200,
            st.owners_page(
                email=q.get("email"),
                after=q.get("after"),
                limit=int(q.get("limit", "100")),
                archived=q.get("archived", "false").lower() == "true",
            ),
        )

    @app.get("/crm/v3/pipelines/{object_type}")
    async def pipelines(object_type: str) -> Response:
        _deals_only(object_type)
        return _answer(200, st.pipelines_wire())

    @app.get("/crm/v3/properties/{object_type}/groups")
    async def list_groups(object_type: str) -> Response:
        _deals_only(object_type)
        return _answer(200, st.groups_wire())

    @app.post("/crm/v3/properties/{object_type}/groups")
    async def create_group(object_type: str, request: Request) -> Response:
        _deals_only(object_type)
        return _answer(201, st.create_group(await _json(request)))

    @app.get("/crm/v3/properties/{object_type}/groups/{name}")
    async def get_group(object_type: str, name: str) -> Response:
        _deals_only(object_type)
        return _answer(200, st.group_wire(name))

    @app.get("/crm/v3/properties/{object_type}")
    async def list_properties(object_type: str) -> Response:
        _deals_only(object_type)
        return _answer(200, st.properties_wire())

    @app.post("/crm/v3/properties/{object_type}")
    async def create_property(object_type: str, request: Request) -> Response:
        _deals_only(object_type)
        return _answer(201, st.create_property(await _json(request)))

    @app.get("/crm/v3/properties/{object_type}/{name}")
    async def get_property(object_type: str, name: str) -> Response:
        _deals_only(object_type)
        return _answer(200, st.property_wire(name))

    @app.get("/settings/v3/currencies/company-currency")
    async def company_currency() -> Response:
        return _answer(200, st.company_currency_wire())

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/create")
    async def associations_create(from_type: str, to_type: str, request: Request) -> Response:
        return _answer(*st.associations_create(from_type, to_type, await _json(request)))

    # ---- control endpoints (no auth, not counted) ------------------------------------------------------

    @app.post(CONTROL_PREFIX + "/reset")
    async def control_reset() -> Response:
        st.reset()
        return _answer(200, {"ok": True})

    @app.post(CONTROL_PREFIX + "/faults")
    async def control_add_fault(request: Request) -> Response:
        body = await _json(request)
        st.add_fault(Fault(kind=FaultKind(body.pop("kind")), **body))
        return _answer(201, {"ok": True})

    @app.delete(CONTROL_PREFIX + "/faults")
    async def control_clear_faults() -> Response:
        st.clear_faults()
        return _answer(200, {"ok": True})

    @app.post(CONTROL_PREFIX + "/seed/demo")
    async def control_seed_demo() -> Response:
        return _answer(201, {"companies": seed_demo(st)})

    @app.post(CONTROL_PREFIX + "/seed/account")
    async def control_seed_account(request: Request) -> Response:
        b = await _json(request)
        return _answer(201, {"id": st.seed_account(str(b["name"]), b.get("domain"), b.get("owner_email"))})

    @app.post(CONTROL_PREFIX + "/seed/user")
    async def control_seed_user(request: Request) -> Response:
        b = await _json(request)
        return _answer(201, {"id": st.seed_user(str(b["email"]), b.get("name"))})

    @app.get(CONTROL_PREFIX + "/deals")
    async def control_deals() -> Response:
        return _answer(200, {"results": [asdict(o) for o in st.opportunities()]})

    @app.get(CONTROL_PREFIX + "/deals/{crm_id}")
    async def control_deal(crm_id: str) -> Response:
        opp = st.opportunity(crm_id)
        if opp is None:
            return _answer(404, {"message": "no such deal"})
        return _answer(200, asdict(opp))

    @app.post(CONTROL_PREFIX + "/deals/{crm_id}/stage")
    async def control_set_stage(crm_id: str, request: Request) -> Response:
        b = await _json(request)
        try:
            st.set_stage(crm_id, str(b["stage"]), b.get("amount"))
        except (KeyError, ValueError) as exc:
            return _answer(400, {"message": str(exc)})
        return _answer(200, {"ok": True})

    @app.get(CONTROL_PREFIX + "/calls")
    async def control_calls(request: Request) -> Response:
        return _answer(200, {"count": st.call_count(request.query_params.get("prefix"))})

    @app.post(CONTROL_PREFIX + "/tokens/expire")
    async def control_expire_token(request: Request) -> Response:
        st.expire_token(str((await _json(request))["token"]))
        return _answer(200, {"ok": True})

    @app.post(CONTROL_PREFIX + "/webhooks/drain")
    async def control_drain_webhooks() -> Response:
        """Pending deal.propertyChange events (HubSpot's delivery body), for a caller to sign and post."""
        return _answer(200, {"events": st.drain_webhook_events()})

    return app, st


def _deals_only(object_type: str) -> None:
    if object_type not in ("deals", "0-3"):
        raise HubSpotHTTPError(404, error_body("OBJECT_NOT_FOUND", "The sandbox serves deals here"))


def _companies_only(object_type: str) -> None:
    if object_type not in ("companies", "0-2"):
        raise HubSpotHTTPError(404, error_body("OBJECT_NOT_FOUND", "The sandbox serves companies here"))


DEMO_COMPANIES: tuple[tuple[str, str, str], ...] = (
    ("Northwind Traders", "northwind.example", "ana.seller@sandbox.example"),
    ("Contoso Manufacturing", "contoso.example", "ben.seller@sandbox.example"),
    ("Fabrikam Logistics", "fabrikam.example", "ana.seller@sandbox.example"),
    ("Tailspin Health", "tailspin.example", "chloe.seller@sandbox.example"),
    ("Wide World Energy", "wideworld.example", "ben.seller@sandbox.example"),
)
DEMO_USERS: tuple[tuple[str, str], ...] = (
    ("dana.delivery@sandbox.example", "Dana Delivery"),
    ("sam.support@sandbox.example", "Sam Support"),
)


def seed_demo(state: HubSpotSandboxState) -> list[str]:
    """Seed companies with owners (and a few staff who are HubSpot users) for a newcomer's first run.

    Idempotent: companies already present by name are not added twice. Returns the company ids.
    """
    with state.lock:
        by_name = {r.properties.get("name"): r.id for r in state.companies.values()}
        ids = []
        for name, domain, owner in DEMO_COMPANIES:
            ids.append(by_name.get(name) or state.seed_account(name, domain, owner))
        for email, display in DEMO_USERS:
            state.seed_user(email, display)
        return ids


def sign_webhook_v3(client_secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> str:
    """HubSpot's X-HubSpot-Signature-v3: base64(HMAC-SHA256(secret, method + uri + body + timestamp))."""
    message = method.encode() + uri.encode() + body + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(client_secret.encode(), message, hashlib.sha256).digest()).decode()


def webhook_delivery(
    events: list[dict[str, Any]], *, url: str, client_secret: str, timestamp_ms: int | None = None
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a signed webhook POST as HubSpot would deliver ``events`` to ``url``."""
    ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    body = json.dumps(events, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": str(ts),
        "X-HubSpot-Signature-v3": sign_webhook_v3(client_secret, "POST", url, body, ts),
        "X-HubSpot-Signature-Version": "v3",
    }
    return headers, body


def start_webhook_delivery(
    state: HubSpotSandboxState, *, url: str, client_secret: str, interval: float = 1.0
) -> Callable[[], None]:
    """Deliver the sandbox's deal.propertyChange events to ``url`` every ``interval`` seconds, signed (v3) as
    HubSpot signs them, so outcomes reach the service within seconds; failed deliveries are retried. Returns
    a function that stops the deliveries."""
    import threading

    import httpx

    stop = threading.Event()

    def deliver() -> None:
        with httpx.Client(timeout=10.0) as client:
            while not stop.wait(interval):
                events = state.drain_webhook_events()
                if not events:
                    continue
                headers, body = webhook_delivery(events, url=url, client_secret=client_secret)
                try:
                    ok = client.post(url, content=body, headers=headers).status_code < 300
                except httpx.HTTPError:
                    ok = False
                if not ok:
                    state.requeue_webhook_events(events)

    threading.Thread(target=deliver, name="hubspot-sandbox-webhooks", daemon=True).start()
    return stop.set


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory integrations.sandbox.hubspot:app_from_env``; seeds demo data."""
    tokens = tuple(t for t in os.environ.get("HUBSPOT_SANDBOX_TOKENS", "sandbox-token").split(",") if t)
    app, state = create_hubspot_sandbox(HubSpotSandboxConfig(tokens=tokens))
    seed_demo(state)
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Run the HubSpot sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", action="append", help="accepted bearer token (repeatable)")
    parser.add_argument("--no-demo", action="store_true", help="start empty instead of seeding demo data")
    args = parser.parse_args()
    app, state = create_hubspot_sandbox(HubSpotSandboxConfig(tokens=tuple(args.token or ["sandbox-token"])))
    if not args.no_demo:
        seed_demo(state)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
