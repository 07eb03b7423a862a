"""Zendesk's settings, read from ``SIGNAL_PIPELINE_ZENDESK_*``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ZendeskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNAL_PIPELINE_ZENDESK_", env_file=None, extra="ignore")

    webhook_secret: SecretStr = Field(description="the webhook's signing secret (Admin Center > Webhooks)")
    tag: str = Field(default="signal", description="the ticket tag that marks a ticket as a signal")
    default_kind: str = Field(default="other", description="kind when no 'signal_<kind>' tag names one")
    replay_window_seconds: int = Field(default=300, ge=30)
    rate_limit_per_minute: int = Field(default=300, ge=1)
