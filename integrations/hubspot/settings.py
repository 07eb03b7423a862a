"""HubSpot's own settings, read from ``SIGNAL_PIPELINE_HUBSPOT_*``, and the adapter built from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from integrations.base import CRMSettings
from integrations.hubspot.config import HubSpotConfig

if TYPE_CHECKING:
    from integrations.hubspot.adapter import HubSpotAdapter


class HubSpotSettings(CRMSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNAL_PIPELINE_HUBSPOT_", env_file=None, extra="ignore")

    base_url: str | None = Field(default=None, description="HubSpot API root; the sandbox's URL in tests")
    access_token: SecretStr | None = None
    client_secret: SecretStr | None = Field(default=None, description="signs webhooks (v3 signature)")
    pipeline: str = "default"
    initial_stage: str = "appointmentscheduled"
    portal_id: str | None = Field(default=None, description="for links to deals in the HubSpot UI")
    record_url_template: str | None = Field(default=None, description="{portal_id} and {crm_id} fields")
    timeout_seconds: float = Field(default=30.0, gt=0)
    default_owner_id: str | None = Field(default=None, description="owns deals whose account owner left")
    # Professional and Enterprise private apps get 190 requests per 10 seconds:
    # https://developers.hubspot.com/changelog/increasing-our-api-limits
    rate_limit: int = Field(default=190, ge=1, description="requests per window (Pro/Enterprise: 190)")
    rate_window_seconds: float = Field(default=10.0, gt=0)

    def missing(self) -> list[str]:
        return [name for name in ("base_url", "access_token") if getattr(self, name) is None]


def build_adapter(settings: HubSpotSettings) -> HubSpotAdapter:
    """The adapter for one portal; refuses settings that cannot connect."""
    if settings.access_token is None or not settings.base_url:
        needed = " and ".join(HubSpotSettings.env_name(name) for name in ("base_url", "access_token"))
        raise ValueError(f"HubSpot needs {needed}")
    config = HubSpotConfig(
        access_token=settings.access_token.get_secret_value(),
        base_url=settings.base_url,
        client_secret=settings.client_secret.get_secret_value() if settings.client_secret else None,
        pipeline_id=settings.pipeline,
        initial_stage_id=settings.initial_stage,
        portal_id=settings.portal_id,
        read_timeout=settings.timeout_seconds,
        default_owner_id=settings.default_owner_id,
        record_url_template=settings.record_url_template or HubSpotConfig.record_url_template,
    )
    # The SDK (a few hundred modules) is imported here, not when the vendor registers: every process start
    # registers all vendors, and one that syncs nothing to HubSpot never needs it.
    from integrations.hubspot.adapter import HubSpotAdapter

    return HubSpotAdapter(config)
