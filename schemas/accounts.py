"""Wire contracts of the account directory."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from schemas.common import FieldError, Str100, Str254, Str300, Strict
from schemas.signals import normalise_domain


class AccountIn(Strict):
    crm_id: Str100 = Field(description="the account's id in the CRM (the upsert key)")
    crm: Annotated[str, Field(pattern="^(hubspot|salesforce|import)$")] = "import"
    name: Str300
    legal_name: Str300 | None = None
    aliases: list[Str300] = Field(default_factory=list, max_length=50)
    domains: list[Str300] = Field(default_factory=list, max_length=50)
    country: Annotated[str, Field(pattern="^[A-Za-z]{2}$")] | None = None
    owner: Str254 | None = Field(default=None, description="the account owner's e-mail or name")
    owner_crm_id: Str100 | None = None
    segment: Str100 | None = Field(default=None, description="routing rules may match on it (e.g. enterprise)")

    @field_validator("domains")
    @classmethod
    def _hosts(cls, values: list[str]) -> list[str]:
        return [normalise_domain(v) for v in values]

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value


class AccountImport(Strict):
    accounts: list[dict[str, object]] = Field(
        min_length=1,
        max_length=10_000,
        json_schema_extra={"items": {"$ref": "#/components/schemas/AccountIn"}},
    )


class AccountRead(BaseModel):
    id: uuid.UUID
    crm: str
    crm_id: str
    name: str
    legal_name: str | None
    aliases: list[str]
    domains: list[str]
    country: str | None
    owner: str | None
    owner_crm_id: str | None
    segment: str | None = None
    updated_at: datetime


class ImportRowResult(BaseModel):
    row: int
    status: Literal["created", "updated", "unchanged", "rejected"]
    id: uuid.UUID | None = None
    errors: list[FieldError] | None = None


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int
    results: list[ImportRowResult]
