"""The mandate policy over HTTP: read it (signals:read), replace it (admin), ask what applies to a signal."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query

from app.core.api import EngineDep, SettingsDep, problems
from app.core.auth import AdminKey, ReadKey
from app.core.db import transaction
from app.core.errors import invalid
from app.mandates import service
from schemas.currency import ISO_4217
from schemas.mandates import MandatePolicy, MandatePolicyRead, MandateRead

router = APIRouter(prefix="/v1/mandates", tags=["mandates"])


@router.get("", response_model=MandatePolicyRead, responses=problems(401, 403))
def get_policy(engine: EngineDep, key: ReadKey) -> MandatePolicyRead:
    with transaction(engine) as session:
        return service.read_policy(session)


@router.put(
    "",
    response_model=MandatePolicyRead,
    responses=problems(401, 403, 422),
    summary="Replace the mandate policy (the CLI's `mandates load FILE` does the same from YAML)",
)
def put_policy(data: MandatePolicy, engine: EngineDep, settings: SettingsDep, key: AdminKey) -> MandatePolicyRead:
    with transaction(engine) as session:
        return service.replace_policy(session, data, settings.contributor_functions, settings.signal_kinds)


@router.get(
    "/resolve",
    response_model=MandateRead,
    responses=problems(401, 403, 422),
    summary="The mandate a contributor of this function has for a signal of this kind and value (for forms)",
)
def resolve(
    engine: EngineDep,
    key: ReadKey,
    function: Annotated[str, Query(min_length=1, max_length=40)],
    kind: Annotated[str, Query(min_length=1, max_length=40)],
    amount: Annotated[Decimal | None, Query(ge=0, max_digits=16, decimal_places=2)] = None,
    currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
) -> MandateRead:
    code = currency.upper() if currency else None
    if code is not None and code not in ISO_4217:
        raise invalid("query.currency", "must be an ISO 4217 currency code such as SEK", "unknown_currency")
    if (amount is None) != (code is None):
        raise invalid("query.amount", "give amount and currency together", "amount_without_currency")
    with transaction(engine) as session:
        return service.load(session).for_signal(function, kind, amount, code)
