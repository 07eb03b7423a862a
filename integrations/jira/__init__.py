"""Jira Cloud: an issue marked by a label or an issue type becomes a signal; a comment links its opportunity."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from integrations.jira.settings import JiraSettings
from integrations.registry import Vendor, register


def _sandbox(url: str) -> tuple[Any, BaseModel]:
    from integrations.sandbox.jira import SANDBOX_EMAIL, SANDBOX_TOKEN, SANDBOX_WEBHOOK_SECRET, create_jira_sandbox

    app, _state = create_jira_sandbox(users={SANDBOX_EMAIL: SANDBOX_TOKEN})
    return app, JiraSettings(
        webhook_secret=SANDBOX_WEBHOOK_SECRET, base_url=url, email=SANDBOX_EMAIL, api_token=SANDBOX_TOKEN
    )


def _build(settings: JiraSettings) -> Any:
    # The Jira client is imported when the source is configured, not when the vendor registers (every start-up).
    from integrations.jira.source import JiraSource

    return JiraSource(settings)


VENDOR = register(
    Vendor(
        kind="capture",
        name="jira",
        settings_model=JiraSettings,
        build=_build,
        description="Jira Cloud webhook: a marked issue becomes a signal; a comment links its opportunity",
        sandbox=_sandbox,
    )
)
