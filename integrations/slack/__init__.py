"""Slack: the `/signal` command, the "Send as signal" message shortcut and DMs about what became of a signal."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from integrations.registry import Vendor, register
from integrations.slack.settings import SlackSettings


def _sandbox(url: str) -> tuple[Any, BaseModel]:
    from integrations.sandbox.slack import SANDBOX_BOT_TOKEN, SANDBOX_SIGNING_SECRET, create_slack_sandbox

    app, _state = create_slack_sandbox(tokens=(SANDBOX_BOT_TOKEN,))
    return app, SlackSettings(
        signing_secret=SANDBOX_SIGNING_SECRET, bot_token=SANDBOX_BOT_TOKEN, base_url=url.rstrip("/") + "/api/"
    )


def _build(settings: SlackSettings) -> Any:
    # slack_sdk is imported when the source is configured, not when the vendor registers (every start-up).
    from integrations.slack.source import SlackSource

    return SlackSource(settings)


VENDOR = register(
    Vendor(
        kind="capture",
        name="slack",
        settings_model=SlackSettings,
        build=_build,
        description="Slack app: /signal command, message shortcut, DMs",
        sandbox=_sandbox,
    )
)
