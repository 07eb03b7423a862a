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
    batch_max_items: int = Field(default=500, ge=1, le=5000)
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    signal_kinds: tuple[str, ...] = DEFAULT_KINDS
    contributor_functions: tuple[str, ...] = DEFAULT_FUNCTIONS
    sales_functions: tuple[str, ...] = ("sales",)
    cluster_window_days: int = Field(default=60, ge=1, le=3650)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"

    # CRM: "none" keeps opportunities local; "hubspot" or "salesforce" syncs them.
    crm: Literal["none", "hubspot", "salesforce"] = "none"
    hubspot_base_url: str | None = None
    hubspot_access_token: SecretStr | None = None
    hubspot_client_secret: SecretStr | None = None
    hubspot_pipeline: str = "default"
    hubspot_initial_stage: str = "appointmentscheduled"
    salesforce_instance_url: str | None = None
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_domain: str = "login"
    salesforce_initial_stage: str = "Prospecting"
    salesforce_team_role: str = "Sales Rep"
    sandbox: bool = Field(default=False, description="mount the local HubSpot sandbox and point the CRM at it")
    worker_in_process: bool = Field(default=False, description="run the sync worker inside `serve`")

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
        needed: dict[str, tuple[str, ...]] = {
            "hubspot": ("hubspot_base_url", "hubspot_access_token"),
            "salesforce": ("salesforce_instance_url", "salesforce_username", "salesforce_password"),
        }
        missing = [ENV_PREFIX + f.upper() for f in needed.get(self.crm, ()) if getattr(self, f) is None]
        if missing:
            raise ValueError(f"CRM {self.crm!r} is half configured: set {', '.join(missing)}")
        return self

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
