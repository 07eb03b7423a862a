"""CRM-neutral records exchanged between the service and the CRM adapters.

Nothing here knows HubSpot or Salesforce: adapters translate these records to and from vendor shapes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class OutcomeStatus(StrEnum):
    open = "open"
    won = "won"
    lost = "lost"
    not_pursued = "not_pursued"


class ContributorCredit(BaseModel):
    """A person credited on an opportunity, as the CRM record shows them."""

    model_config = ConfigDict(frozen=True)

    email: str
    function: str
    role: str  # "originator" or "co_contributor"


class OpportunityRecord(BaseModel):
    """What the service wants a CRM deal/opportunity to say; keyed by our opportunity id."""

    model_config = ConfigDict(frozen=True)

    opportunity_id: str
    version: int = Field(ge=0, description="local version this record was built from")
    name: str
    account_crm_id: str | None
    owner_crm_id: str | None = Field(default=None, description="who should own the deal; the account owner today")
    account_owner_crm_id: str | None = Field(default=None, description="the fallback when the owner is inactive")
    amount: Decimal | None = None
    currency: str | None = None
    close_date: date | None = None
    originator: ContributorCredit
    contributors: tuple[ContributorCredit, ...]
    signal_count: int
    kinds: tuple[str, ...]
    first_seen_at: datetime
    source_links: tuple[str, ...] = ()
    is_new: bool = Field(default=True, description="no CRM id known locally yet")
    crm_id: str | None = None


class UpsertResult(BaseModel):
    """One result per input record: either a CRM id or a permanent rejection."""

    opportunity_id: str
    crm_id: str | None = None
    created: bool = False
    url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_field: str | None = None

    @property
    def ok(self) -> bool:
        return self.crm_id is not None and self.error_code is None


class DuplicateClosure(BaseModel):
    """A merged-away opportunity's CRM record, to be closed as a duplicate of the survivor's record."""

    model_config = ConfigDict(frozen=True)

    opportunity_id: str = Field(description="the merged-away opportunity")
    crm_id: str = Field(description="its CRM record, the one to close")
    survivor_opportunity_id: str
    survivor_crm_id: str


class ClosureResult(BaseModel):
    """One result per closure: the survivor's record id afterwards (a CRM merge may give it a new id), or why
    the closure was refused."""

    opportunity_id: str
    survivor_crm_id: str | None = None
    survivor_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.survivor_crm_id is not None and self.error_code is None


class AccountRecord(BaseModel):
    """A customer account as the CRM knows it."""

    crm: str
    crm_id: str
    name: str
    legal_name: str | None = None
    domains: tuple[str, ...] = ()
    country: str | None = None
    owner_crm_id: str | None = None
    owner_email: str | None = None
    updated_at: datetime | None = None


class UserRecord(BaseModel):
    """A CRM user (HubSpot owner / Salesforce User) that contributor e-mails map onto."""

    crm: str
    crm_id: str
    email: str
    name: str | None = None
    active: bool = True


class OutcomeRecord(BaseModel):
    """What the CRM says became of an opportunity."""

    opportunity_id: str
    crm_id: str
    status: OutcomeStatus
    stage: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    close_date: date | None = None
    note: str | None = None
    changed_at: datetime | None = None
    stage_changed_at: datetime | None = Field(default=None, description="when the CRM's stage history says it moved")
