"""The one typed interface every CRM adapter implements, and the error taxonomy the sync worker acts on.

Vendor types never leave an adapter package: adapters take and return the CRM-neutral records of
``schemas.crm`` and raise only the errors below.
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import Field
from pydantic_settings import BaseSettings

from schemas.crm import (
    AccountRecord,
    ClosureResult,
    DuplicateClosure,
    OpportunityRecord,
    OutcomeRecord,
    UpsertResult,
    UserRecord,
)


class CRMError(Exception):
    """Base of every adapter error. Messages carry status, vendor code and request id, never bodies."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id


class Retryable(CRMError):
    """Transient: 5xx, timeouts, connection errors, HubSpot 429, Salesforce UNABLE_TO_LOCK_ROW."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.retry_after = retry_after


class RateLimited(Retryable):
    """HubSpot 429 or Salesforce 403 REQUEST_LIMIT_EXCEEDED: back off, never dead-letter."""


class AuthExpired(CRMError):
    """The session or token expired: refresh once, then fail loudly."""


class Rejected(CRMError):
    """A permanent 4xx for the whole request (bad configuration, invalid payload): do not retry."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        field: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.field = field


def active_owner(
    record: OpportunityRecord, active_user_ids: Container[str], default_owner_id: str | None
) -> str | None:
    """Who owns a new deal: the record's owner if an active CRM user, else the account owner if active, else the
    configured default owner, else nobody (the CRM's own default: the integration user in Salesforce, no owner
    in HubSpot). Salesforce refuses an inactive owner (INACTIVE_OWNER_OR_USER); HubSpot has no use for one."""
    for candidate in (record.owner_crm_id, record.account_owner_crm_id):
        if candidate and candidate in active_user_ids:
            return candidate
    return default_owner_id or None


@dataclass(frozen=True)
class RawRequest:
    """An inbound webhook request as received, for signature verification."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime = field(default_factory=lambda: datetime.now().astimezone())


class CRMSettings(BaseSettings):
    """Base of every CRM vendor's settings model (``SIGNAL_PIPELINE_<VENDOR>_*``).

    Each vendor declares its own variables and defaults, and the limits the sync worker must respect: the
    client-side rate budget every worker process shares (``rate_limit`` requests per ``rate_window_seconds``).
    """

    rate_limit: int = Field(default=1, ge=1, description="client-side requests per window, shared by all workers")
    rate_window_seconds: float = Field(default=1.0, gt=0)

    def missing(self) -> list[str]:
        """Field names this vendor still needs before it can connect; empty when it is fully configured."""
        return []

    @classmethod
    def env_name(cls, field_name: str) -> str:
        """The environment variable that sets ``field_name``."""
        return str(cls.model_config.get("env_prefix", "")) + field_name.upper()


@runtime_checkable
class CRMAdapter(Protocol):
    """A CRM behind one interface. Every method is safe to retry."""

    name: ClassVar[str]
    batch_size: ClassVar[int]

    def setup(self) -> list[str]:
        """Create custom properties/fields idempotently; return what was created."""
        ...

    def upsert_opportunities(self, records: Sequence[OpportunityRecord]) -> list[UpsertResult]:
        """Upsert keyed by opportunity id; exactly one result per input, in input order."""
        ...

    def close_duplicates(self, closures: Sequence[DuplicateClosure]) -> list[ClosureResult]:
        """Close each merged-away record the way the CRM itself does it, pointing at the survivor's record;
        exactly one result per input, in input order. A record already closed this way counts as done."""
        ...

    def pull_accounts(self, since: datetime | None) -> Iterator[AccountRecord]: ...

    def pull_users(self, since: datetime | None) -> Iterator[UserRecord]: ...

    def pull_outcomes(self, opportunity_ids: Sequence[str]) -> Iterator[OutcomeRecord]: ...

    def verify_webhook(self, raw: RawRequest) -> list[OutcomeRecord]:
        """Verify the signature (raise AuthExpired-free ``WebhookRejected`` on failure) and parse outcomes."""
        ...

    def record_url(self, crm_id: str) -> str: ...

    def request_cost(self, records: Sequence[OpportunityRecord]) -> float:
        """How many requests one ``upsert_opportunities(records)`` takes, charged to the shared rate budget."""
        ...

    def refresh(self) -> bool:
        """Renew an expired session once after ``AuthExpired``; False when there is nothing to renew."""
        ...


class WebhookRejected(Exception):
    """Signature missing, wrong or outside the replay window; the webhook endpoint answers 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
