"""Microsoft Teams' settings, read from ``SIGNAL_PIPELINE_TEAMS_*``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class TeamsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNAL_PIPELINE_TEAMS_", env_file=None, extra="ignore")

    hmac_secret: SecretStr = Field(description="the security token Teams shows when the outgoing webhook is created")
    contributors: dict[str, str] = Field(
        default_factory=dict, description='JSON {"<Entra object id>": "<e-mail>"}: who may send signals'
    )
    default_kind: str = "other"
    rate_limit_per_minute: int = Field(default=120, ge=1)
