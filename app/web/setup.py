"""Mounts the web app on the service: pages, sign-in, local API docs, static files, HTML error pages."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.core.settings import Settings
from app.web import contributor, docs, insights, review, signin
from app.web.deps import HERE, SecurityHeaders, install_web_errors
from app.web.oidc import OidcClient


def install_web(app: FastAPI, settings: Settings) -> None:
    app.state.oidc = OidcClient(settings) if settings.oidc_issuer else None
    for router in (signin.router, contributor.router, review.router, insights.router, docs.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    install_web_errors(app)
    app.add_middleware(SecurityHeaders)
