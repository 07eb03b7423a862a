"""Wire types shared by every endpoint: RFC 9457 problem details and cursor pages."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from schemas.currency import ISO_4217
from schemas.limits import EARLIEST_YEAR, LATEST_YEAR, MAX_NOTE_CHARS, MAX_TEXT_CHARS, MAX_TITLE_CHARS

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
Str2000 = Annotated[str, Field(min_length=1, max_length=MAX_NOTE_CHARS), NoNul]
Title = Annotated[str, Field(min_length=3, max_length=MAX_TITLE_CHARS), NoNul]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), NoNul]

# An ISO 8601 / RFC 3339 date or date-time text. Pydantic on its own also takes numbers (and digit strings) as
# Unix time and guesses seconds or milliseconds from the size, so 253402300800 would become a day in 1978.
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEARS = f"between the years {EARLIEST_YEAR} and {LATEST_YEAR}"


def _iso_text(pattern: re.Pattern[str], example: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, date):  # a Python caller's own value
            return value
        if not isinstance(value, str) or not pattern.match(value.strip()):
            raise ValueError(f"must be an ISO 8601 text such as {example} (numbers are not accepted)")
        return value.strip()

    return BeforeValidator(check)


def _supported_year(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must be {_YEARS}")
    return value


# Every date and date-time the API accepts, in bodies and in query strings alike.
DateTimeIn = Annotated[datetime, _iso_text(_ISO_DATETIME, "2025-03-01T09:30:00Z"), AfterValidator(_supported_year)]
DateIn = Annotated[date, _iso_text(_ISO_DATE, "2025-03-01"), AfterValidator(_supported_year)]


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
