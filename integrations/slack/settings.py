"""Slack's settings: the app's signing secret and bot token, read from ``SIGNAL_PIPELINE_SLACK_*``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNAL_PIPELINE_SLACK_", env_file=None, extra="ignore")

    signing_secret: SecretStr = Field(description="Basic Information > App Credentials > Signing Secret")
    bot_token: SecretStr = Field(description="OAuth & Permissions > Bot User OAuth Token (xoxb-...)")
    base_url: str = Field(default="https://slack.com/api/", description="Web API root; the sandbox's URL offline")
    command: str = Field(default="/signal", description="the slash command as created in the app")
    shortcut_callback_id: str = Field(default="send_as_signal", description="the message shortcut's Callback ID")
    timeout_seconds: float = Field(default=10.0, gt=0)
    rate_limit_per_minute: int = Field(default=120, ge=1, description="requests per minute to /capture/slack/*")
