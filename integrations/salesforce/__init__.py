"""Salesforce adapter: Opportunities upserted by External ID through the real simple-salesforce."""

from integrations.salesforce.adapter import SalesforceAdapter, SalesforceHttpSession
from integrations.salesforce.config import SalesforceConfig, SalesforceFieldNames

__all__ = ["SalesforceAdapter", "SalesforceConfig", "SalesforceFieldNames", "SalesforceHttpSession"]
