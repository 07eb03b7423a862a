"""HubSpot adapter: deals per opportunity, written through the real hubspot-api-client."""

from integrations import registry
from integrations.hubspot import local
from integrations.hubspot.adapter import HubSpotAdapter
from integrations.hubspot.config import HubSpotConfig, HubSpotPropertyNames
from integrations.hubspot.settings import HubSpotSettings, build_adapter

__all__ = ["HubSpotAdapter", "HubSpotConfig", "HubSpotPropertyNames", "HubSpotSettings", "build_adapter"]

registry.register(
    registry.Vendor(
        kind="crm",
        name="hubspot",
        settings_model=HubSpotSettings,
        build=build_adapter,
        description="HubSpot deals, upserted by a unique deal property",
        local_sandbox=registry.LocalSandbox(
            serve=local.serve, embed=local.embed, environment=local.environment, set_stage=local.set_stage
        ),
    )
)
