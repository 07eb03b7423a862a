"""Configuration: one pydantic-settings class, environment prefix ``SIGNAL_PIPELINE_``.

A wrong or missing value stops the start with the variable's name and what is wrong (see ``load_settings``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations import registry
from integrations.base import CRMSettings
from integrations.outbound import OutboundPolicy

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
    match_max_age_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="an open opportunity with no signal for this long is no longer a duplicate candidate",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"

    # CRM: "none" keeps opportunities local; otherwise the name of a registered CRM vendor (integrations/),
    # whose own settings model reads its variables (SIGNAL_PIPELINE_<VENDOR>_*) into ``crm_settings``.
    crm: str = "none"
    crm_settings: SkipJsonSchema[CRMSettings | None] = Field(default=None, exclude=True)
    sandbox: bool = Field(default=False, description="serve the CRM's local sandbox inside the service and use it")
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
    allow_insecure_webhooks: bool = Field(
        default=False,
        description="notification subscriptions may use loopback receivers, also over plain http (local development "
        "and tests only); otherwise only https to public addresses (integrations/outbound.py)",
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

    # Rate limits (app/core/ratelimit.py): a token bucket per API key, and one per capture/webhook source and remote
    # address. The buckets live in Redis when redis_url is set, else in PostgreSQL, else (SQLite) in the process.
    rate_limit_per_minute: int = Field(
        default=600, ge=0, description="requests per minute per API key (the refill rate); 0 = no limit"
    )
    rate_limit_burst: int | None = Field(
        default=None, ge=1, description="requests a full bucket allows at once; default: one minute's worth"
    )
    webhook_rate_limit_per_minute: int = Field(
        default=600, ge=1, description="CRM webhook requests per minute per CRM and remote address"
    )
    redis_url: SecretStr | None = Field(default=None, description="redis://host:6379/0: shared rate-limit buckets")

    # Secrets at rest (app/core/secretbox.py): the first key encrypts, every key decrypts. Unset: the embedded
    # set-up generates one into var/secret-key (next to the SQLite file), which only one machine can use.
    secret_keys: SecretStr | None = Field(
        default=None, description="comma-separated Fernet keys (`signal-pipeline secrets new-key` prints one)"
    )
    secret_key_file: Path | None = Field(
        default=None, description="without SECRET_KEYS: the generated key's file, shared by every process that reads it"
    )

    @property
    def webhook_policy(self) -> OutboundPolicy:
        """Where notification subscriptions may send events."""
        return OutboundPolicy(allow_insecure_loopback=self.allow_insecure_webhooks)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("secret_keys")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None  # set but empty (compose's default): the key file
        if value is not None:
            from app.core.secretbox import parse_keys

            parse_keys(value.get_secret_value())
        return value

    @field_validator("crm")
    @classmethod
    def _registered_crm(cls, value: str) -> str:
        known = registry.names("crm")
        if value != "none" and value not in known:
            raise ValueError(f"must be none or one of: {', '.join(known)}")
        return value

    @model_validator(mode="after")
    def _complete_crm(self) -> Settings:
        if self.crm == "none":
            return self
        if self.crm_settings is None:
            self.crm_settings = _read_vendor_settings(self.crm)
        if self.sandbox:
            return self
        missing = [self.crm_settings.env_name(f) for f in self.crm_settings.missing()]
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

    @property
    def key_file(self) -> Path:
        """The generated key's file (no SECRET_KEYS): SECRET_KEY_FILE, else beside the SQLite file, else ./var."""
        if self.secret_key_file is not None:
            return self.secret_key_file
        path = self.sqlite_path
        return (path.parent if path is not None else Path("var")) / "secret-key"

    @property
    def sqlite_path(self) -> Path | None:
        if not self.database_url.startswith("sqlite:///"):
            return None
        raw = self.database_url.removeprefix("sqlite:///")
        return None if raw in ("", ":memory:") else Path(raw)


def _read_vendor_settings(crm: str) -> CRMSettings:
    """The CRM vendor's own settings model, read from its variables; a bad value names the variable."""
    model = registry.get("crm", crm).settings_model
    try:
        vendor_settings = model()
    except ValidationError as exc:
        raise ValueError(describe_errors(exc, prefix=str(model.model_config.get("env_prefix", "")))) from None
    if not isinstance(vendor_settings, CRMSettings):
        raise TypeError(f"the {crm} vendor's settings model does not extend CRMSettings")
    return vendor_settings


class SettingsError(SystemExit):
    """Raised instead of a traceback: names each variable and what is wrong with it."""


def describe_errors(exc: ValidationError, prefix: str = ENV_PREFIX) -> str:
    lines = []
    for err in exc.errors():
        loc = "_".join(str(p) for p in err["loc"] if p != "__root__")
        name = prefix + loc.upper() if loc else "configuration"
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
