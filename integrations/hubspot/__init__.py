"""HubSpot adapter: deals per opportunity, written through the real hubspot-api-client."""

from integrations.hubspot.adapter import HubSpotAdapter
from integrations.hubspot.config import HubSpotConfig, HubSpotPropertyNames

__all__ = ["HubSpotAdapter", "HubSpotConfig", "HubSpotPropertyNames"]
