"""Configuration: one pydantic-settings class, environment prefix ``SIGNAL_PIPELINE_``.

A wrong or missing value stops the start with the variable's name and what is wrong (see ``load_settings``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SIGNAL_PIPELINE_"

DEFAULT_KINDS = (
    "changed_need",
    "new_use_case",
    "inefficiency",
    "expansion",
    "renewal_risk",
    "referral",
    "other",
)
DEFAULT_FUNCTIONS = (
    "delivery",
    "support",
    "project",
    "consulting",
    "engineering",
    "customer_success",
    "sales",
    "other",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=None, extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/signal-pipeline.db",
        description="SQLAlchemy URL; sqlite:///path (embedded default) or postgresql://user@host/db",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="larger request bodies get 413")
    idempotency_ttl_hours: int = Field(default=24, ge=1, description="an Idempotency-Key older than this is new again")
    signal_kinds: tuple[str, ...] = DEFAULT_KINDS
    contributor_functions: tuple[str, ...] = DEFAULT_FUNCTIONS
    sales_functions: tuple[str, ...] = ("sales",)
    cluster_window_days: int = Field(default=60, ge=1, le=3650)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"

    # CRM: "none" keeps opportunities local; "hubspot" or "salesforce" syncs them.
    crm: Literal["none", "hubspot", "salesforce"] = "none"
    hubspot_base_url: str | None = Field(default=None, description="HubSpot API root; the sandbox's URL in tests")
    hubspot_access_token: SecretStr | None = None
    hubspot_client_secret: SecretStr | None = Field(default=None, description="signs webhooks (v3 signature)")
    hubspot_pipeline: str = "default"
    hubspot_initial_stage: str = "appointmentscheduled"
    hubspot_portal_id: str | None = Field(default=None, description="for links to deals in the HubSpot UI")
    hubspot_record_url_template: str | None = Field(default=None, description="{portal_id} and {crm_id} fields")
    hubspot_timeout_seconds: float = Field(default=30.0, gt=0)
    hubspot_default_owner_id: str | None = Field(default=None, description="owns deals whose account owner left")
    hubspot_rate_limit: int = Field(default=190, ge=1, description="requests per window (Pro/Enterprise: 190)")
    hubspot_rate_window_seconds: float = Field(default=10.0, gt=0)
    salesforce_instance_url: str | None = None
    salesforce_login_url: str | None = Field(default=None, description="OAuth host; default from _DOMAIN")
    salesforce_client_id: str | None = None
    salesforce_client_secret: SecretStr | None = None
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_session_id: SecretStr | None = Field(default=None, description="a ready token, with INSTANCE_URL")
    salesforce_domain: str = "login"
    salesforce_initial_stage: str = "Prospecting"
    salesforce_team_role: str = "Sales Rep"
    salesforce_ca_bundle: str | None = Field(default=None, description="CA file to trust (sandbox, TLS proxies)")
    salesforce_timeout_seconds: float = Field(default=30.0, gt=0)
    salesforce_default_owner_id: str | None = Field(default=None, description="owns opportunities whose owner left")
    salesforce_team_selling: str = Field(default="auto", pattern="^(auto|on|off)$", description="OpportunityTeamMember")
    salesforce_rate_limit_retry_after: float = Field(
        default=900.0, ge=0, description="back-off after REQUEST_LIMIT_EXCEEDED (it carries no Retry-After)"
    )
    salesforce_rate_limit: int = Field(default=25, ge=1, description="client-side requests per window")
    salesforce_rate_window_seconds: float = Field(default=1.0, gt=0)
    sandbox: bool = Field(default=False, description="mount the local HubSpot sandbox and point the CRM at it")
    sandbox_url: str = Field(
        default="http://127.0.0.1:8000/sandbox", description="where this server's sandboxes are reachable"
    )
    worker_in_process: bool = Field(default=False, description="run the sync worker inside `serve`")

    # Sync worker (the outbox relay).
    sync_batch_size: int = Field(default=0, ge=0, description="records per CRM call; 0 = the CRM's batch limit")
    sync_poll_seconds: float = Field(default=0.25, gt=0, description="idle wait between claims")
    sync_lease_seconds: float = Field(default=120.0, gt=0, description="a claimed job returns after this long")
    sync_max_attempts: int = Field(default=10, ge=1, description="transient failures before a job is dead")
    sync_backoff_base_seconds: float = Field(default=2.0, gt=0)
    sync_backoff_max_seconds: float = Field(default=600.0, gt=0)
    sync_inline_attempts: int = Field(default=4, ge=1, description="tries of one batch before it is rescheduled")
    sync_inline_max_wait_seconds: float = Field(
        default=15.0, ge=0, description="longer waits (Retry-After, backoff) are rescheduled, not slept"
    )
    sync_rate_burst_fraction: float = Field(
        default=0.1, gt=0, le=1, description="share of the rate window usable as a burst (keeps a rolling window)"
    )
    sync_pull_interval_seconds: float = Field(
        default=300.0, ge=0, description="accounts, users and outcomes pulls by the worker; 0 = never"
    )
    sync_metrics_port: int | None = Field(default=None, description="serve /metrics from each worker process")
    routing_sweep_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="how often background processes look for overdue opportunities"
    )
    webhook_base_url: str | None = Field(
        default=None, description="public URL the CRM calls (signature checks use it when behind a proxy)"
    )

    # Web app sign-in: OpenID Connect when the issuer is set; otherwise `signal-pipeline dev login-link`.
    oidc_issuer: str | None = Field(default=None, description="issuer URL; its /.well-known/openid-configuration")
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_roles_claim: str = Field(default="roles", description="ID-token claim listing the user's roles")
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict, description="issuer role -> contributor|seller|analyst|admin; unmapped roles are ignored"
    )
    web_session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description="a web sign-in lasts this long")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _complete_crm(self) -> Settings:
        if self.sandbox:
            return self
        missing = [ENV_PREFIX + f.upper() for f in self.crm_missing()]
        if missing:
            raise ValueError(f"CRM {self.crm!r} is half configured: set {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _complete_oidc(self) -> Settings:
        parts: dict[str, object] = {
            "oidc_issuer": self.oidc_issuer,
            "oidc_client_id": self.oidc_client_id,
            "oidc_client_secret": self.oidc_client_secret,
        }
        missing = [ENV_PREFIX + k.upper() for k, v in parts.items() if v is None]
        if missing and len(missing) < len(parts):
            raise ValueError(f"OpenID Connect is half configured: set {', '.join(missing)}")
        return self

    def crm_missing(self) -> list[str]:
        """Settings the chosen CRM still needs (field names); empty when it can connect."""
        if self.crm == "hubspot":
            return [f for f in ("hubspot_base_url", "hubspot_access_token") if getattr(self, f) is None]
        if self.crm != "salesforce":
            return []
        # Either a ready session (token + instance) or OAuth client credentials, optionally with a user login.
        if self.salesforce_session_id is not None:
            return [] if self.salesforce_instance_url else ["salesforce_instance_url"]
        needed = ["salesforce_client_id", "salesforce_client_secret"]
        if self.salesforce_username is not None or self.salesforce_password is not None:
            needed += ["salesforce_username", "salesforce_password"]
        return [f for f in needed if getattr(self, f) is None]

    @property
    def sqlite_path(self) -> Path | None:
        if not self.database_url.startswith("sqlite:///"):
            return None
        raw = self.database_url.removeprefix("sqlite:///")
        return None if raw in ("", ":memory:") else Path(raw)


class SettingsError(SystemExit):
    """Raised instead of a traceback: names each variable and what is wrong with it."""


def describe_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = "_".join(str(p) for p in err["loc"] if p != "__root__")
        name = ENV_PREFIX + loc.upper() if loc else "configuration"
        lines.append(f"  {name}: {err['msg']}")
    return "invalid configuration:\n" + "\n".join(lines)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
