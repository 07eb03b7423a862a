"""HubSpot adapter: deals per opportunity, written through the real hubspot-api-client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations import registry
from integrations.hubspot import local
from integrations.hubspot.config import HubSpotConfig, HubSpotPropertyNames
from integrations.hubspot.settings import HubSpotSettings, build_adapter

if TYPE_CHECKING:
    from integrations.hubspot.adapter import HubSpotAdapter

__all__ = ["HubSpotAdapter", "HubSpotConfig", "HubSpotPropertyNames", "HubSpotSettings", "build_adapter"]


def __getattr__(name: str) -> Any:
    # The adapter pulls in the SDK: imported when first named, not when the vendor registers (every start-up).
    if name == "HubSpotAdapter":
        from integrations.hubspot.adapter import HubSpotAdapter

        return HubSpotAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
