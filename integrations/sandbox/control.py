"""What tests and the CLI can do to a sandbox CRM besides speaking its API: seed it, read it, break it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class FaultKind(StrEnum):
    server_error = "server_error"  # answer `status` (default 500) without doing the work
    rate_limit = "rate_limit"  # HubSpot 429 / Salesforce 403 REQUEST_LIMIT_EXCEEDED, with the vendor body/headers
    timeout_after_commit = "timeout_after_commit"  # do the work, then stall past the client's timeout
    latency = "latency"  # do the work after sleeping `seconds`
    expired_session = "expired_session"  # 401 with the vendor's expired-session body
    reject_record = "reject_record"  # a per-record validation error for records matching `match`


@dataclass
class Fault:
    kind: FaultKind
    times: int = 1  # how many matching requests it applies to
    path: str | None = None  # only requests whose path contains this
    status: int | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    match: str | None = None  # for reject_record: the opportunity id (our unique key) to reject
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SandboxOpportunity:
    """A deal/opportunity as stored in the sandbox, in CRM-neutral terms, for assertions."""

    crm_id: str
    opportunity_id: str | None  # the unique key property/external id
    account_crm_id: str | None
    owner_crm_id: str | None
    properties: dict[str, Any]
    collaborator_ids: tuple[str, ...] = ()


class SandboxControl(Protocol):
    """Implemented by each sandbox app's state object."""

    def reset(self) -> None: ...

    def add_fault(self, fault: Fault) -> None: ...

    def seed_account(self, name: str, domain: str | None = None, owner_email: str | None = None) -> str:
        """Create a company/account (and its owner user if new); return its CRM id."""
        ...

    def seed_user(self, email: str, name: str | None = None) -> str: ...

    def opportunities(self) -> list[SandboxOpportunity]: ...

    def set_stage(self, crm_id: str, stage: str, amount: float | None = None) -> None:
        """Move a deal as a seller would (stage id / StageName)."""
        ...

    def call_count(self, path_prefix: str | None = None) -> int:
        """API calls received (each HTTP request counts once), optionally under a path prefix."""
        ...
