"""Wire contracts of the signal intake API."""

from __future__ import annotations

import functools
import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, EmailStr, Field, field_validator, model_validator
from pydantic.networks import validate_email

from schemas.common import DateTimeIn, FieldError, Money, Str100, Str200, Str300, Strict, Text, Title
from schemas.mandates import MandateRead

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_SLUG = r"^[a-z][a-z0-9_]{0,39}$"


def normalise_domain(value: str) -> str:
    """A bare lower-case host from a domain or URL ("https://www.Acme.se/x" -> "acme.se"); ValueError if none."""
    host = value.lower().strip()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host).split("/", 1)[0].split(":", 1)[0].removeprefix("www.")
    if not _DOMAIN.match(host):
        raise ValueError("must be a domain name such as acme.se")
    return host


@functools.lru_cache(maxsize=8192)
def _checked_email(value: str) -> str:
    """pydantic's EmailStr check, remembered per address: a company's reporters post from the same few thousand
    addresses again and again, and the check (email-validator's parse) cost more than the rest of a signal's
    validation. A refused address raises, and exceptions are not cached: it is checked again each time."""
    return validate_email(value)[1]


if TYPE_CHECKING:  # as pydantic declares EmailStr: a str to the type checker
    _Email = str
else:

    class _Email(EmailStr):
        """EmailStr (same check, same JSON schema) with the check remembered."""

        @classmethod
        def _validate(cls, input_value: str, /) -> str:
            return _checked_email(input_value)


Email = Annotated[_Email, Field(max_length=254)]
Slug = Annotated[str, Field(pattern=_SLUG, description="lower-case identifier, e.g. 'support'")]


class ContributorRef(Strict):
    email: Email
    name: Str200 | None = None
    function: Slug | None = Field(default=None, description="delivery, support, project, consulting, ...")
    team: Str100 | None = None

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class ContributorUpdate(Strict):
    """PATCH /v1/contributors/{ref} (contributors:write): the only way to change a known person's name, team or
    function; a posted signal only fills in what is still empty."""

    name: Str200 | None = None
    team: Str100 | None = None
    function: Slug | None = Field(default=None, description="delivery, support, project, consulting, ...")

    @model_validator(mode="after")
    def _something(self) -> ContributorUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of name, team, function")
        return self


class CustomerHint(Strict):
    """Whatever the reporter knows about the customer; at least one field."""

    crm_account_id: Str100 | None = None
    email: Email | None = None
    domain: Str300 | None = Field(default=None, description="web domain or URL, e.g. acme.se")
    name: Str300 | None = None

    @field_validator("email")
    @classmethod
    def _lower_email(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    @field_validator("domain")
    @classmethod
    def _valid_domain(cls, value: str | None) -> str | None:
        return None if value is None else normalise_domain(value)

    @model_validator(mode="after")
    def _at_least_one(self) -> CustomerHint:
        if not any((self.crm_account_id, self.email, self.domain, self.name)):
            raise ValueError("give at least one of crm_account_id, email, domain or name")
        return self


class Source(Strict):
    system: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
    reference: Str200 | None = Field(default=None, description="the tool's own id; a repeat is answered 200")
    url: Annotated[AnyHttpUrl, Field(max_length=2000)] | None = None


class SignalCreate(Strict):
    contributor: ContributorRef
    customer: CustomerHint
    kind: Slug = Field(description="changed_need, new_use_case, inefficiency, expansion, renewal_risk, ...")
    title: Title
    body: Text
    value: Money | None = None
    observed_at: DateTimeIn | None = Field(
        default=None, description="when it was noticed, as RFC 3339 text (e.g. 2025-03-01T09:30:00Z); default now"
    )
    source: Source
    opportunity_ref: Str100 | None = Field(
        default=None, description="an opportunity id or CRM deal id this signal belongs to"
    )


class AccountRef(BaseModel):
    id: uuid.UUID
    crm_id: str
    name: str


class CandidateRead(BaseModel):
    account_id: str
    name: str
    score: float
    method: str


class AttributionRead(BaseModel):
    method: str
    confidence: float
    evidence: dict[str, Any] = {}
    candidates: list[CandidateRead] = []


class OpportunityRef(BaseModel):
    id: uuid.UUID
    title: str
    status: str
    crm_id: str | None = None
    crm_url: str | None = None
    match: dict[str, Any] = Field(default_factory=dict, description="why the signal joined: scores, matched signals")


class DuplicateCandidate(BaseModel):
    opportunity_id: uuid.UUID
    score: float = Field(description="calibrated probability that the signal belongs to this opportunity")
    reasons: list[str] = []


class ContributorSummary(BaseModel):
    id: uuid.UUID
    email: str | None
    name: str | None
    function: str
    team: str | None


class SignalRead(BaseModel):
    id: uuid.UUID
    status: Literal["attributed", "needs_review"]
    kind: str
    title: str
    body: str
    value: Money | None
    observed_at: datetime
    received_at: datetime
    contributor: ContributorSummary
    customer: dict[str, Any]
    source: dict[str, Any]
    account: AccountRef | None
    attribution: AttributionRead | None
    opportunity: OpportunityRef | None
    mandate: MandateRead | None = Field(
        default=None, description="what the contributor may do with it: only report, propose to the customer, or quote"
    )
    duplicate_candidates: list[DuplicateCandidate] = Field(
        default_factory=list,
        description="open opportunities this signal may duplicate (up to 5, best first), waiting for a person "
        "in GET /v1/review/duplicates; empty when it joined one or nothing was alike",
    )


class SignalBatch(Strict):
    signals: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=500,
        description="up to 500 signals, each shaped like the body of POST /v1/signals",
        json_schema_extra={"items": {"$ref": "#/components/schemas/SignalCreate"}},
    )


class BatchItemResult(BaseModel):
    index: int
    status: Literal[200, 201, 422]
    signal: SignalRead | None = None
    errors: list[FieldError] | None = None


class BatchResult(BaseModel):
    created: int
    existing: int
    rejected: int
    results: list[BatchItemResult]


class ContributorRead(ContributorSummary):
    created_at: datetime
    first_signal_at: datetime | None
    last_signal_at: datetime | None
    signal_count: int
