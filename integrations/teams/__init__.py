"""Microsoft Teams: an outgoing webhook (@mention in a channel) turns a message into a signal, answered with a card."""

from __future__ import annotations

from integrations.registry import Vendor, register
from integrations.teams.settings import TeamsSettings
from integrations.teams.source import TeamsSource

VENDOR = register(
    Vendor(
        kind="capture",
        name="teams",
        settings_model=TeamsSettings,
        build=TeamsSource,
        description="Teams outgoing webhook: '@Signals Customer: what you noticed #kind'",
    )
)
