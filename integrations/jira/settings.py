"""Jira Cloud's settings, read from ``SIGNAL_PIPELINE_JIRA_*``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class JiraSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNAL_PIPELINE_JIRA_", env_file=None, extra="ignore")

    webhook_secret: SecretStr = Field(description="the secret set on the admin webhook")
    label: str = Field(default="signal", description="an issue with this label is a signal")
    issue_type: str | None = Field(default=None, description="or: every issue of this type is a signal")
    customer_field: str | None = Field(
        default=None, description="field holding the customer (e.g. customfield_10050); default: the project name"
    )
    default_kind: str = "other"
    base_url: str | None = Field(default=None, description="site URL for comments, e.g. https://ourco.atlassian.net")
    email: str | None = Field(default=None, description="the account that comments (with an API token)")
    api_token: SecretStr | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    rate_limit_per_minute: int = Field(default=300, ge=1)
