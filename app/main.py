"""The FastAPI application factory."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

import app.tables  # noqa: F401  (every table registered before any query: foreign keys name other features' tables)
from app.accounts.directory import AccountDirectory
from app.accounts.router import router as accounts_router
from app.capture.router import router as capture_router
from app.capture.service import TaskRunner, build_sources, sandbox_mounts
from app.contributors.router import me_router
from app.contributors.router import router as contributors_router
from app.core import startup
from app.core.api import problem_contract
from app.core.auth import KeyCache
from app.core.background import start_loops
from app.core.db import make_engine
from app.core.errors import install_error_handlers
from app.core.health import router as health_router
from app.core.input_limits import InputLimits
from app.core.middleware import AccessLog, BodyLimit, LiteralPathMethods
from app.core.ratelimit import RateLimitHeaders, api_key_quota, build_limiter
from app.core.secretbox import open_box
from app.core.settings import Settings, get_settings
from app.duplicates.router import router as duplicates_router
from app.mandates.router import router as mandates_router
from app.notifications.router import router as subscriptions_router
from app.opportunities.outcomes_router import router as outcomes_router
from app.opportunities.router import router as opportunities_router
from app.reports.router import router as reports_router
from app.routing.router import router as routing_router
from app.signals.router import review_router
from app.signals.router import router as signals_router
from app.signals.service import IngestConfig
from app.sync.adapters import embedded_sandbox
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
        startup.resume()  # the app is built (`serve` paused the collector while it loaded)
        open_box(settings, engine)  # a wrong SIGNAL_PIPELINE_SECRET_KEYS stops the start, not a later request
        app.state.directory.start(engine)
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
        app.state.directory.close()
        app.state.rate_limiter.close()
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
    app.state.rate_limiter = build_limiter(settings)
    app.state.api_quota = api_key_quota(settings)
    app.state.directory = AccountDirectory()
    app.state.readiness = [lambda: None if app.state.directory.ready else "loading the account directory"]
    app.state.ingest_config = IngestConfig.from_settings(settings, app.state.directory)
    install_error_handlers(app)
    render_openapi = app.openapi
    app.openapi = lambda: app.openapi_schema or problem_contract(render_openapi())  # type: ignore[method-assign]
    for router in (
        health_router,
        signals_router,
        review_router,
        duplicates_router,
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
        # The newcomer's first run: the CRM's and the capture tools' local sandboxes served by this same process.
        path, sandbox = embedded_sandbox(settings)
        app.mount(path, sandbox)
        for name, sandbox, source_settings in sandbox_mounts(settings.sandbox_url):
            app.mount(f"/sandbox/{name}", sandbox)
            sandbox_settings[name] = source_settings
    app.state.capture_sources = build_sources(sandbox_settings)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(LiteralPathMethods)
    app.add_middleware(InputLimits)  # inside BodyLimit: bodies it sees are already bounded
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog)
    return app
