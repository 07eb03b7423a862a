"""The configured CRM, looked up by name in the vendor registry: app/ never names a vendor itself."""

from __future__ import annotations

from typing import Any

from app.core.settings import Settings
from integrations import registry
from integrations.base import CRMAdapter


def build_adapter(settings: Settings) -> CRMAdapter | None:
    """The adapter for ``settings.crm``, or None when opportunities stay local (``crm = none``)."""
    if settings.crm == "none" or settings.crm_settings is None:
        return None
    adapter: CRMAdapter = registry.get("crm", settings.crm).build(settings.crm_settings)
    return adapter


def rate_limit(settings: Settings) -> tuple[int, float]:
    """(requests, window seconds) of the client-side budget the configured CRM declares, shared by all workers."""
    if settings.crm_settings is None:
        raise ValueError("no CRM configured")
    return settings.crm_settings.rate_limit, settings.crm_settings.rate_window_seconds


def choices() -> str:
    """The values ``SIGNAL_PIPELINE_CRM`` accepts, for hints."""
    return ", ".join(["none", *registry.names("crm")])


def sandbox_vendor(crm: str) -> registry.Vendor:
    """The CRM whose sandbox runs inside the service: ``crm``, or with "none" the first CRM whose sandbox can."""
    name = crm if crm != "none" else next(iter(registry.embeddable("crm")), "none")
    vendor = registry.get("crm", name)
    if vendor.local_sandbox is None or vendor.local_sandbox.embed is None or vendor.local_sandbox.environment is None:
        raise ValueError(f"the {name} sandbox cannot run inside the service")
    return vendor


def sandbox_path(vendor: registry.Vendor) -> str:
    """Where a vendor's embedded sandbox is mounted in the service."""
    return f"/sandbox/{vendor.name}"


def embedded_sandbox_environment(crm: str, base_url: str) -> dict[str, str]:
    """The variables that make ``serve`` at ``base_url`` run ``crm`` against its own sandbox mounted in the same
    process, synced by an in-process worker."""
    vendor = sandbox_vendor(crm)
    assert vendor.local_sandbox is not None and vendor.local_sandbox.environment is not None
    return {
        "SIGNAL_PIPELINE_CRM": vendor.name,
        "SIGNAL_PIPELINE_WORKER_IN_PROCESS": "true",
        "SIGNAL_PIPELINE_WEBHOOK_BASE_URL": base_url,
        "SIGNAL_PIPELINE_SANDBOX_URL": base_url + "/sandbox",
        **vendor.local_sandbox.environment(base_url + sandbox_path(vendor)),
    }


def embedded_sandbox(settings: Settings) -> tuple[str, Any]:
    """(mount path, ASGI app) of the configured CRM's sandbox, seeded and set up for a first sync; with a
    public URL configured it sends its change notifications to this service's webhook endpoint."""
    vendor = sandbox_vendor(settings.crm)
    assert vendor.local_sandbox is not None and vendor.local_sandbox.embed is not None
    crm_settings = settings.crm_settings or vendor.settings_model()
    base = settings.webhook_base_url
    webhook_url = f"{base.rstrip('/')}/v1/webhooks/{vendor.name}" if base else None
    return sandbox_path(vendor), vendor.local_sandbox.embed(crm_settings, webhook_url)
