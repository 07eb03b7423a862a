"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.accounts.directory import AccountDirectory
from app.accounts.router import router as accounts_router
from app.auth import KeyCache
from app.contributors.router import me_router
from app.contributors.router import router as contributors_router
from app.db import make_engine
from app.errors import install_error_handlers
from app.health import router as health_router
from app.middleware import AccessLog, BodyLimit
from app.notifications.router import router as subscriptions_router
from app.opportunities.outcomes_router import router as outcomes_router
from app.opportunities.router import router as opportunities_router
from app.reports.router import router as reports_router
from app.settings import Settings, get_settings
from app.signals.router import review_router
from app.signals.router import router as signals_router
from app.signals.service import IngestConfig

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
        yield
        engine.dispose()

    app = FastAPI(title="signal-pipeline", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.key_cache = KeyCache()
    app.state.directory = AccountDirectory()
    app.state.ingest_config = IngestConfig(
        kinds=frozenset(settings.signal_kinds),
        functions=frozenset(settings.contributor_functions),
        crm=None if settings.crm == "none" else settings.crm,
        window_days=settings.cluster_window_days,
        directory=app.state.directory,
    )
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
        subscriptions_router,
    ):
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog)
    return app
