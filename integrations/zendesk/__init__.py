"""Zendesk: a trigger's webhook turns a tagged ticket into a signal from the agent who tagged it."""

from __future__ import annotations

from integrations.registry import Vendor, register
from integrations.zendesk.settings import ZendeskSettings
from integrations.zendesk.source import ZendeskSource

VENDOR = register(
    Vendor(
        kind="capture",
        name="zendesk",
        settings_model=ZendeskSettings,
        build=ZendeskSource,
        description="Zendesk trigger webhook: a tagged ticket becomes a signal",
    )
)
