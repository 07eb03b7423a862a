"""Wire types shared by every endpoint: RFC 9457 problem details and cursor pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from schemas.currency import ISO_4217

T = TypeVar("T")


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the offending field, e.g. 'customer.email'")
    reason: str
    code: str = Field(description="machine-readable reason, e.g. 'string_too_long'")


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str | None = Field(default=None, description="stable machine-readable error code")
    errors: list[FieldError] | None = None


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as ?cursor= to get the next page; null on the last page")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


# Bounded, NUL-free strings for request bodies (NUL breaks PostgreSQL text and downstream tools).
NoNul = AfterValidator(_no_nul)
Str40 = Annotated[str, Field(min_length=1, max_length=40), NoNul]
Str100 = Annotated[str, Field(min_length=1, max_length=100), NoNul]
Str200 = Annotated[str, Field(min_length=1, max_length=200), NoNul]
Str254 = Annotated[str, Field(min_length=1, max_length=254), NoNul]
Str300 = Annotated[str, Field(min_length=1, max_length=300), NoNul]
Str2000 = Annotated[str, Field(min_length=1, max_length=2000), NoNul]
Text = Annotated[str, Field(min_length=1, max_length=20_000), NoNul]


class Strict(BaseModel):
    """Base of every request body: unknown fields are an error, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Money(Strict):
    amount: Decimal = Field(ge=0, max_digits=16, decimal_places=2)
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. SEK")

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        code = value.upper()
        if code not in ISO_4217:
            raise ValueError("must be an ISO 4217 currency code such as SEK, EUR or USD")
        return code
