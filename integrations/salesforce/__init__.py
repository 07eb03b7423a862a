"""Salesforce adapter: Opportunities upserted by External ID through the real simple-salesforce."""

from integrations import registry
from integrations.salesforce import local
from integrations.salesforce.adapter import SalesforceAdapter, SalesforceHttpSession
from integrations.salesforce.config import SalesforceConfig, SalesforceFieldNames
from integrations.salesforce.settings import SalesforceSettings, build_adapter

__all__ = [
    "SalesforceAdapter",
    "SalesforceConfig",
    "SalesforceFieldNames",
    "SalesforceHttpSession",
    "SalesforceSettings",
    "build_adapter",
]

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
