"""Salesforce's own settings, read from ``SIGNAL_PIPELINE_SALESFORCE_*``, and the adapter built from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from integrations.base import CRMSettings
from integrations.salesforce.config import SalesforceConfig

if TYPE_CHECKING:
    from integrations.salesforce.adapter import SalesforceAdapter

LOGIN_HOSTS = {"login": "https://login.salesforce.com", "test": "https://test.salesforce.com"}


class SalesforceSettings(CRMSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNAL_PIPELINE_SALESFORCE_", env_file=None, extra="ignore")

    instance_url: str | None = None
    login_url: str | None = Field(default=None, description="OAuth host; default from _DOMAIN")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    session_id: SecretStr | None = Field(default=None, description="a ready token, with INSTANCE_URL")
    domain: str = "login"
    initial_stage: str = "Prospecting"
    team_role: str = "Sales Rep"
    ca_bundle: str | None = Field(default=None, description="CA file to trust (sandbox, TLS proxies)")
    timeout_seconds: float = Field(default=30.0, gt=0)
    default_owner_id: str | None = Field(default=None, description="owns opportunities whose owner left")
    team_selling: str = Field(default="auto", pattern="^(auto|on|off)$", description="OpportunityTeamMember")
    lost_stage: str | None = Field(
        default=None, description="closed stage for merged-away opportunities; default: the org's stage metadata"
    )
    rate_limit_retry_after: float = Field(
        default=900.0, ge=0, description="back-off after REQUEST_LIMIT_EXCEEDED (it carries no Retry-After)"
    )
    rate_limit: int = Field(default=25, ge=1, description="client-side requests per window")
    rate_window_seconds: float = Field(default=1.0, gt=0)

    def missing(self) -> list[str]:
        # Either a ready session (token + instance) or OAuth client credentials, optionally with a user login.
        if self.session_id is not None:
            return [] if self.instance_url else ["instance_url"]
        needed = ["client_id", "client_secret"]
        if self.username is not None or self.password is not None:
            needed += ["username", "password"]
        return [name for name in needed if getattr(self, name) is None]

    @property
    def resolved_login_url(self) -> str:
        """``login_url``, or the OAuth host ``domain`` names ("login", "test" or a My Domain prefix)."""
        return self.login_url or LOGIN_HOSTS.get(self.domain, f"https://{self.domain}.my.salesforce.com")


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_adapter(settings: SalesforceSettings) -> SalesforceAdapter:
    """The adapter for one org; refuses settings that cannot authenticate."""
    config = SalesforceConfig(
        login_url=settings.resolved_login_url,
        instance_url=settings.instance_url,
        client_id=settings.client_id,
        client_secret=_secret(settings.client_secret),
        username=settings.username,
        password=_secret(settings.password),
        security_token=_secret(settings.security_token) or "",
        session_id=_secret(settings.session_id),
        initial_stage=settings.initial_stage,
        team_member_role=settings.team_role,
        ca_bundle=settings.ca_bundle,
        timeout_seconds=settings.timeout_seconds,
        rate_limit_retry_after=settings.rate_limit_retry_after,
        default_owner_id=settings.default_owner_id,
        team_selling=settings.team_selling,
        lost_stage=settings.lost_stage,
    )
    # simple-salesforce (and zeep under it) is imported here, not when the vendor registers: see hubspot's.
    from integrations.salesforce.adapter import SalesforceAdapter

    return SalesforceAdapter(config)
