"""A Salesforce adapter wired to a live sandbox over TLS, for the Salesforce tests and the conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from integrations.salesforce import SalesforceAdapter, SalesforceConfig
from integrations.salesforce.setup import sandbox_field_types
from integrations.sandbox.salesforce_server import RunningSalesforceSandbox, run_salesforce_sandbox
from integrations.sandbox.salesforce_state import SalesforceSandboxState
from schemas.crm import ContributorCredit, OpportunityRecord


@dataclass
class SalesforceEnv:
    """What the conformance suite reads: ``adapter``, ``control`` and the optional hints below."""

    adapter: SalesforceAdapter
    control: SalesforceSandboxState  # implements integrations.sandbox.control.SandboxControl
    sandbox: RunningSalesforceSandbox
    config: SalesforceConfig
    won_stage: str = "Closed Won"
    lost_stage: str = "Closed Lost"
    open_stage: str = "Negotiation/Review"
    write_path: str = "/composite"  # Opportunity writes: POST composite or PATCH composite/sobjects/...
    honours_retry_after: bool = False  # Salesforce's REQUEST_LIMIT_EXCEEDED carries no Retry-After
    clock_resolution: float = 0.001  # SystemModstamp has millisecond precision

    @property
    def stall_seconds(self) -> float:
        """A timeout-after-commit stall that outlasts the adapter's read timeout."""
        return self.config.timeout_seconds + 0.5


def make_config(sandbox: RunningSalesforceSandbox, **overrides: Any) -> SalesforceConfig:
    """OAuth username-password flow against the sandbox's token endpoint, trusting its throwaway CA."""
    st = sandbox.state
    options: dict[str, Any] = {
        "login_url": sandbox.base_url,
        "client_id": st.client_id,
        "client_secret": st.client_secret,
        "username": st.username,
        "password": st.password,
        "ca_bundle": sandbox.ca_file,
        "bulk_poll_seconds": 0,
        "timeout_seconds": 2.0,
    }
    options.update(overrides)
    return SalesforceConfig(**options)


def make_env(sandbox: RunningSalesforceSandbox, **overrides: Any) -> SalesforceEnv:
    config = make_config(sandbox, **overrides)
    return SalesforceEnv(SalesforceAdapter(config), sandbox.state, sandbox, config)


@contextmanager
def salesforce_env(**overrides: Any) -> Iterator[SalesforceEnv]:
    """A fresh sandbox (custom fields present) and an adapter pointed at it; config fields can be overridden."""
    fields = sandbox_field_types(SalesforceConfig())
    with run_salesforce_sandbox(opportunity_custom_fields=fields) as sandbox:
        yield make_env(sandbox, **overrides)


def opportunity(
    n: int,
    *,
    account: str | None = None,
    owner: str | None = None,
    is_new: bool = True,
    crm_id: str | None = None,
    contributors: tuple[str, ...] = ("ada@example.com",),
    signal_count: int = 1,
    version: int = 1,
    name: str | None = None,
) -> OpportunityRecord:
    """A CRM-neutral record with a predictable id ``opp-<n>``."""
    credits = tuple(
        ContributorCredit(email=email, function="delivery", role="originator" if i == 0 else "co_contributor")
        for i, email in enumerate(contributors)
    )
    return OpportunityRecord(
        opportunity_id=f"opp-{n:05d}",
        version=version,
        name=name or f"Opportunity {n}",
        account_crm_id=account,
        owner_crm_id=owner,
        originator=credits[0],
        contributors=credits,
        signal_count=signal_count,
        kinds=("expansion",),
        first_seen_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        source_links=(f"https://tickets.example/T-{n}",),
        is_new=is_new,
        crm_id=crm_id,
    )
