"""The configured CRM adapter, built from settings: the one place that knows which vendor is in use."""

from __future__ import annotations

from app.core.settings import Settings
from integrations.base import CRMAdapter

LOGIN_HOSTS = {"login": "https://login.salesforce.com", "test": "https://test.salesforce.com"}


def build_adapter(settings: Settings) -> CRMAdapter | None:
    """The adapter for ``settings.crm``, or None when opportunities stay local (``crm = none``)."""
    if settings.crm == "hubspot":
        return _hubspot(settings)
    if settings.crm == "salesforce":
        return _salesforce(settings)
    return None


def _secret(value: object) -> str | None:
    get = getattr(value, "get_secret_value", None)
    return str(get()) if get is not None else None


def _hubspot(settings: Settings) -> CRMAdapter:
    from integrations.hubspot import HubSpotAdapter, HubSpotConfig

    token = _secret(settings.hubspot_access_token)
    if not token or not settings.hubspot_base_url:
        raise ValueError("HubSpot needs SIGNAL_PIPELINE_HUBSPOT_BASE_URL and SIGNAL_PIPELINE_HUBSPOT_ACCESS_TOKEN")
    options: dict[str, object] = {
        "access_token": token,
        "base_url": settings.hubspot_base_url,
        "client_secret": _secret(settings.hubspot_client_secret),
        "pipeline_id": settings.hubspot_pipeline,
        "initial_stage_id": settings.hubspot_initial_stage,
        "portal_id": settings.hubspot_portal_id,
        "read_timeout": settings.hubspot_timeout_seconds,
        "default_owner_id": settings.hubspot_default_owner_id,
    }
    if settings.sync_batch_size:
        options["batch_size"] = min(settings.sync_batch_size, 100)
    if settings.hubspot_record_url_template:
        options["record_url_template"] = settings.hubspot_record_url_template
    return HubSpotAdapter(HubSpotConfig(**options))  # type: ignore[arg-type]


def _salesforce(settings: Settings) -> CRMAdapter:
    from integrations.salesforce import SalesforceAdapter, SalesforceConfig

    login_url = settings.salesforce_login_url or LOGIN_HOSTS.get(
        settings.salesforce_domain, f"https://{settings.salesforce_domain}.my.salesforce.com"
    )
    config = SalesforceConfig(
        login_url=login_url,
        instance_url=settings.salesforce_instance_url,
        client_id=settings.salesforce_client_id,
        client_secret=_secret(settings.salesforce_client_secret),
        username=settings.salesforce_username,
        password=_secret(settings.salesforce_password),
        security_token=_secret(settings.salesforce_security_token) or "",
        session_id=_secret(settings.salesforce_session_id),
        initial_stage=settings.salesforce_initial_stage,
        team_member_role=settings.salesforce_team_role,
        ca_bundle=settings.salesforce_ca_bundle,
        timeout_seconds=settings.salesforce_timeout_seconds,
        rate_limit_retry_after=settings.salesforce_rate_limit_retry_after,
        default_owner_id=settings.salesforce_default_owner_id,
        team_selling=settings.salesforce_team_selling,
    )
    return SalesforceAdapter(config)


def rate_limit(settings: Settings, crm: str) -> tuple[int, float]:
    """(requests, window seconds) the shared client-side budget allows for ``crm``."""
    if crm == "hubspot":
        return settings.hubspot_rate_limit, settings.hubspot_rate_window_seconds
    return settings.salesforce_rate_limit, settings.salesforce_rate_window_seconds
