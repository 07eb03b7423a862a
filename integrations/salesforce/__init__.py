"""Salesforce adapter: Opportunities upserted by External ID through the real simple-salesforce."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations import registry
from integrations.salesforce import local
from integrations.salesforce.config import SalesforceConfig, SalesforceFieldNames
from integrations.salesforce.settings import SalesforceSettings, build_adapter

if TYPE_CHECKING:
    from integrations.salesforce.adapter import SalesforceAdapter, SalesforceHttpSession

__all__ = [
    "SalesforceAdapter",
    "SalesforceConfig",
    "SalesforceFieldNames",
    "SalesforceHttpSession",
    "SalesforceSettings",
    "build_adapter",
]


def __getattr__(name: str) -> Any:
    # The adapter pulls in simple-salesforce and zeep: imported when first named, not when the vendor registers.
    if name in ("SalesforceAdapter", "SalesforceHttpSession"):
        from integrations.salesforce import adapter

        return getattr(adapter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


registry.register(
    registry.Vendor(
        kind="crm",
        name="salesforce",
        settings_model=SalesforceSettings,
        build=build_adapter,
        description="Salesforce Opportunities, upserted by an External ID field",
        local_sandbox=registry.LocalSandbox(serve=local.serve),
    )
)
