"""The contributor and customer e-mail check is pydantic's EmailStr, remembered per address (schemas/signals.py):
it must accept, refuse and normalise exactly as EmailStr does, every time, and publish the same schema."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, EmailStr, ValidationError

from schemas.signals import ContributorRef, CustomerHint, _checked_email


class _Plain(BaseModel):
    email: EmailStr


ADDRESSES = [
    "anna@acme.se",
    "Anna.Berg@ACME.se",
    "o'brien+tag@example.co.uk",
    "jörg@bücher.de",
    "  padded@acme.se  ",
    "Anna Berg <anna@acme.se>",
    "no-at-sign.acme.se",
    "two@@acme.se",
    "dot.@acme.se",
    "anna@localhost",
    "anna@[127.0.0.1]",
    "",
    "a" * 65 + "@acme.se",
]


def _plain(address: str) -> str | None:
    try:
        return _Plain(email=address).email
    except ValidationError:
        return None


def _ours(address: str) -> str | None:
    try:
        return ContributorRef(email=address).email
    except ValidationError:
        return None


@pytest.mark.parametrize("address", ADDRESSES)
def test_accepts_and_refuses_as_emailstr_does_first_time_and_again(address: str) -> None:
    expected = _plain(address)
    expected = expected.lower() if expected is not None else None  # ContributorRef stores addresses lower-cased
    assert _ours(address) == expected
    assert _ours(address) == expected  # the second time comes from the cache when accepted


def test_a_refused_address_is_not_remembered() -> None:
    _checked_email.cache_clear()
    for _ in range(2):
        with pytest.raises(ValidationError):
            ContributorRef(email="nobody-at-all")
    assert _checked_email.cache_info().currsize == 0


def test_the_published_schema_is_emailstrs() -> None:
    ours = ContributorRef.model_json_schema()["properties"]["email"]
    assert ours["type"] == "string" and ours["format"] == "email" and ours["maxLength"] == 254
    hint = CustomerHint.model_json_schema()["properties"]["email"]
    assert {"type": "string", "format": "email", "maxLength": 254} in hint["anyOf"]
