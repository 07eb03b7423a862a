"""The FastAPI application factory."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

import app.tables  # noqa: F401  (every table registered before any query: foreign keys name other features' tables)
from app.accounts.directory import AccountDirectory, warm
from app.accounts.router import router as accounts_router
from app.capture.router import router as capture_router
from app.capture.service import TaskRunner, build_sources, sandbox_mounts
from app.contributors.router import me_router
from app.contributors.router import router as contributors_router
from app.core.auth import KeyCache
from app.core.background import start_loops
from app.core.db import make_engine
from app.core.errors import install_error_handlers
from app.core.health import router as health_router
from app.core.middleware import AccessLog, BodyLimit
from app.core.settings import Settings, get_settings
from app.mandates.router import router as mandates_router
from app.notifications.router import router as subscriptions_router
from app.opportunities.outcomes_router import router as outcomes_router
from app.opportunities.router import router as opportunities_router
from app.reports.router import router as reports_router
from app.routing.router import router as routing_router
from app.signals.router import review_router
from app.signals.router import router as signals_router
from app.signals.service import IngestConfig
from app.sync.metrics import router as metrics_router
from app.sync.router import router as sync_router
from app.sync.router import webhooks_router
from app.web.setup import install_web

DESCRIPTION = """\
Signals are what delivery, support, project and engineering staff notice at customers. Tools post them here;
the service attributes each to an account, merges signals about the same opportunity, syncs the opportunity
to the CRM and credits everyone who contributed. Every error is RFC 9457 `application/problem+json`.
Authenticate with `Authorization: Bearer <api key>`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warm(app.state.directory, engine)
        stops: list[Callable[[], None]] = []
        if settings.worker_in_process:
            # The embedded set-up: one process also syncs the CRM and delivers notifications.
            from app.sync.worker import start_in_process

            if settings.crm != "none":
                stops.append(start_in_process(settings))
            stop = threading.Event()
            capture = TaskRunner(engine, app.state.ingest_config, app.state.capture_sources)
            threads = start_loops(engine, settings, stop, capture=capture)

            def stop_background() -> None:
                stop.set()
                for thread in threads:
                    thread.join(timeout=30)

            stops.append(stop_background)
        yield
        for stop_one in stops:
            stop_one()
        engine.dispose()

    app = FastAPI(
        title="signal-pipeline",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by app.web.docs from vendored assets (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.key_cache = KeyCache()
    app.state.directory = AccountDirectory()
    app.state.ingest_config = IngestConfig.from_settings(settings, app.state.directory)
    install_error_handlers(app)
    for router in (
        health_router,
        signals_router,
        review_router,
        accounts_router,
        opportunities_router,
        contributors_router,
        me_router,
        outcomes_router,
        reports_router,
        mandates_router,
        routing_router,
        subscriptions_router,
        sync_router,
        webhooks_router,
        metrics_router,
        capture_router,
    ):
        app.include_router(router)
    install_web(app, settings)
    sandbox_settings = {}
    if settings.sandbox:
        mount_sandbox(app, settings)
        for name, sandbox, source_settings in sandbox_mounts(settings.sandbox_url):
            app.mount(f"/sandbox/{name}", sandbox)
            sandbox_settings[name] = source_settings
    app.state.capture_sources = build_sources(sandbox_settings)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog)
    return app


SANDBOX_PATH = "/sandbox/hubspot"


def mount_sandbox(app: FastAPI, settings: Settings) -> None:
    """The local HubSpot sandbox, seeded with demo companies and owners, served by this same process.

    It keeps its portal in memory: a restart empties it, and the next sync re-creates the deals.
    """
    from integrations.hubspot.config import HubSpotPropertyNames
    from integrations.hubspot.mapping import deal_property_definitions
    from integrations.sandbox.hubspot import create_hubspot_sandbox, seed_demo
    from integrations.sandbox.hubspot_state import HubSpotSandboxConfig

    token = settings.hubspot_access_token.get_secret_value() if settings.hubspot_access_token else SANDBOX_TOKEN
    sandbox, state = create_hubspot_sandbox(HubSpotSandboxConfig(tokens=(token,)))
    seed_demo(state)
    # What `signal-pipeline crm setup` creates in a real portal, done in place so the first sync succeeds.
    names = HubSpotPropertyNames()
    state.create_group({"name": names.group, "label": names.group_label})
    for definition in deal_property_definitions(names):  # the SDK's snake_case; the wire is camelCase
        state.create_property({re.sub(r"_(\w)", lambda m: m[1].upper(), k): v for k, v in definition.items()})
    app.mount(SANDBOX_PATH, sandbox)
    app.state.sandbox = state
    secret = settings.hubspot_client_secret.get_secret_value() if settings.hubspot_client_secret else None
    if secret and settings.webhook_base_url:
        # Like a HubSpot app's webhook subscription: deal changes are posted, signed, to this service.
        from integrations.sandbox.hubspot import start_webhook_delivery

        start_webhook_delivery(
            state, url=settings.webhook_base_url.rstrip("/") + "/v1/webhooks/hubspot", client_secret=secret
        )


SANDBOX_TOKEN = "sandbox-token"  # noqa: S105  (a local fake's token, not a secret)
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"  # noqa: S105  (the local fake's app secret)
