"""Signal intake: validate, deduplicate, attribute, cluster, credit, mark for sync. Never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from app.errors import InvalidInput, NotFound
from app.models import Account, Contributor, Opportunity, Signal
from app.opportunities import service as opportunities
from app.signals import matching
from app.signals.repo import SignalRepo
from app.timeutil import as_utc, utcnow
from schemas.common import FieldError
from schemas.signals import (
    AccountRef,
    AttributionRead,
    ContributorSummary,
    Money,
    OpportunityRef,
    SignalCreate,
    SignalRead,
)

FUTURE_TOLERANCE = timedelta(minutes=10)


@dataclass(frozen=True)
class IngestConfig:
    kinds: frozenset[str]
    functions: frozenset[str]
    crm: str | None
    window_days: int


@dataclass
class IngestResult:
    signal: Signal
    created: bool
    read: SignalRead


def check_vocabulary(data: SignalCreate, config: IngestConfig) -> None:
    """Kinds and functions are configurable, so they are checked here rather than in the schema."""
    errors = []
    if data.kind not in config.kinds:
        errors.append(
            FieldError(field="kind", code="unknown_kind", reason=f"must be one of: {', '.join(sorted(config.kinds))}")
        )
    if data.contributor.function is not None and data.contributor.function not in config.functions:
        errors.append(
            FieldError(
                field="contributor.function",
                code="unknown_function",
                reason=f"must be one of: {', '.join(sorted(config.functions))}",
            )
        )
    if data.observed_at is not None and as_utc(data.observed_at) > utcnow() + FUTURE_TOLERANCE:
        errors.append(FieldError(field="observed_at", code="in_future", reason="must not be in the future"))
    if errors:
        raise InvalidInput("; ".join(f"{e.field}: {e.reason}" for e in errors), errors=errors)


def ingest(session: Session, config: IngestConfig, data: SignalCreate, api_key_id: uuid.UUID | None) -> IngestResult:
    check_vocabulary(data, config)
    repo = SignalRepo(session)
    if data.source.reference is not None:
        existing = repo.by_source_ref(data.source.system, data.source.reference)
        if existing is not None:
            return IngestResult(existing, False, to_read(session, existing))

    observed_at = as_utc(data.observed_at) if data.observed_at else utcnow()
    c = data.contributor
    contributor = repo.upsert_contributor(c.email, c.name, c.function, c.team, observed_at)
    hint = data.customer.model_dump(exclude_none=True)
    signal = Signal(
        contributor_id=contributor.id,
        kind=data.kind,
        title=data.title,
        body=data.body,
        value_amount=data.value.amount if data.value else None,
        value_currency=data.value.currency if data.value else None,
        observed_at=observed_at,
        source_system=data.source.system,
        source_reference=data.source.reference,
        source_url=str(data.source.url) if data.source.url else None,
        customer_hint=hint,
        opportunity_ref=data.opportunity_ref,
        api_key_id=api_key_id,
    )
    account, attribution = matching.attribute(session, data.customer, f"{data.title}\n{data.body}")
    signal.attribution = attribution
    signal.account_id = account.id if account else None
    signal.status = "attributed" if account else "needs_review"
    session.add(signal)
    session.flush()
    opp = None
    if account is not None:
        opp = place(session, config, signal, account)
    return IngestResult(signal, True, to_read(session, signal, contributor, account, opp))


def place(session: Session, config: IngestConfig, signal: Signal, account: Account) -> Opportunity:
    """Cluster an attributed signal into an opportunity at its account (joining or opening one)."""
    opp, match = matching.cluster(session, signal, account, timedelta(days=config.window_days))
    if opp is None:
        opp = opportunities.open_opportunity(session, account, signal)
    signal.match = match
    opportunities.add_signal(session, opp, signal, config.crm)
    return opp


def get(session: Session, signal_id: uuid.UUID) -> Signal:
    signal = SignalRepo(session).by_id(signal_id)
    if signal is None:
        raise NotFound(f"no signal {signal_id}")
    return signal


def to_read(
    session: Session,
    signal: Signal,
    contributor: Contributor | None = None,
    account: Account | None = None,
    opp: Opportunity | None = None,
) -> SignalRead:
    contributor = contributor or session.get(Contributor, signal.contributor_id)
    assert contributor is not None
    if account is None and signal.account_id:
        account = session.get(Account, signal.account_id)
    if opp is None and signal.opportunity_id:
        opp = session.get(Opportunity, signal.opportunity_id)
    return build_read(signal, contributor, account, opp)


def build_read(
    signal: Signal, contributor: Contributor, account: Account | None, opp: Opportunity | None
) -> SignalRead:
    source: dict[str, Any] = {"system": signal.source_system}
    if signal.source_reference:
        source["reference"] = signal.source_reference
    if signal.source_url:
        source["url"] = signal.source_url
    return SignalRead(
        id=signal.id,
        status=signal.status,
        kind=signal.kind,
        title=signal.title,
        body=signal.body,
        value=Money(amount=signal.value_amount, currency=signal.value_currency)
        if signal.value_amount is not None and signal.value_currency
        else None,
        observed_at=signal.observed_at,
        received_at=signal.received_at,
        contributor=ContributorSummary(
            id=contributor.id,
            email=contributor.email,
            name=contributor.name,
            function=contributor.function,
            team=contributor.team,
        ),
        customer=signal.customer_hint,
        source=source,
        account=AccountRef(id=account.id, crm_id=account.crm_id, name=account.name) if account else None,
        attribution=AttributionRead.model_validate(signal.attribution) if signal.attribution else None,
        opportunity=OpportunityRef(
            id=opp.id,
            title=opp.title,
            status=opp.status,
            crm_id=opp.crm_id,
            crm_url=opp.crm_url,
            match=signal.match,
        )
        if opp
        else None,
    )
