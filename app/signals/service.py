"""Signal intake: validate, deduplicate, attribute, cluster, credit, mark for sync. Never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from app.accounts.directory import AccountDirectory
from app.errors import Conflict, InvalidInput, NotFound
from app.ids import uuid7
from app.models import Account, Contributor, Opportunity, Signal
from app.opportunities import service as opportunities
from app.opportunities.repo import OpportunityRepo
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
    directory: AccountDirectory = field(default_factory=AccountDirectory, compare=False)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)


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
    """Store one signal, attributed and placed in an opportunity; or return the one it repeats (created=False)."""
    check_vocabulary(data, config)
    repo = SignalRepo(session)
    if data.source.reference is not None:
        existing = repo.by_source_ref(data.source.system, data.source.reference)
        if existing is not None:
            return IngestResult(existing, False, to_read(session, existing))

    observed_at = as_utc(data.observed_at) if data.observed_at else utcnow()
    text = f"{data.title}\n{data.body}"
    decided = matching.attribute(config.directory.index(session), data.customer, text)
    attribution = matching.attribution_record(decided)
    account = session.get(Account, uuid.UUID(decided.account_id)) if decided.account_id else None
    named = OpportunityRepo(session).by_ref(data.opportunity_ref) if data.opportunity_ref else None
    if named is not None and (account is None or account.id != named.account_id):
        # The tool named the opportunity: that decides the account, whatever the hint suggested.
        attribution["evidence"] = {**attribution["evidence"], "overridden": attribution["method"]}
        attribution.update(method="opportunity_ref", confidence=1.0)
        account = session.get(Account, named.account_id)

    signal = Signal(
        id=uuid7(),
        contributor_id=uuid.UUID(int=0),  # set below, once we know this is not a re-post
        kind=data.kind,
        title=data.title,
        body=data.body,
        value_amount=data.value.amount if data.value else None,
        value_currency=data.value.currency if data.value else None,
        observed_at=observed_at,
        source_system=data.source.system,
        source_reference=data.source.reference,
        source_url=str(data.source.url) if data.source.url else None,
        customer_hint=data.customer.model_dump(exclude_none=True),
        opportunity_ref=data.opportunity_ref,
        api_key_id=api_key_id,
        attribution=attribution,
        account_id=account.id if account else None,
        status="attributed" if account else "needs_review",
    )
    decision = None
    if account is not None:
        decision, opps = matching.place(
            session, matching.signal_text(signal, data.contributor.email), account, config.window
        )
        if decision.repost_of is not None:
            earlier = repo.by_id(uuid.UUID(decision.repost_of))
            assert earlier is not None
            return IngestResult(earlier, False, to_read(session, earlier))

    c = data.contributor
    contributor = repo.upsert_contributor(c.email, c.name, c.function, c.team, observed_at)
    signal.contributor_id = contributor.id
    session.add(signal)
    session.flush()
    opp = None
    if account is not None and decision is not None:
        target = named or (opps.get(decision.opportunity_id) if decision.opportunity_id else None)
        signal.match = matching.match_record(decision)
        if named is not None:
            signal.match = {"reason": f"the payload names opportunity {data.opportunity_ref}", "score": 1.0}
        opp = target or opportunities.open_opportunity(session, account, signal)
        opportunities.add_signal(session, opp, signal, config.crm)
    return IngestResult(signal, True, build_read(signal, contributor, account, opp))


def place(session: Session, config: IngestConfig, signal: Signal, account: Account, email: str) -> Opportunity:
    """Cluster an already stored signal (e.g. after a human assigned its account) into an opportunity."""
    decision, opps = matching.place(
        session, matching.signal_text(signal, email), account, config.window, exclude=signal.id
    )
    signal.match = matching.match_record(decision)
    opp = (opps.get(decision.opportunity_id) if decision.opportunity_id else None) or (
        opportunities.open_opportunity(session, account, signal)
    )
    opportunities.add_signal(session, opp, signal, config.crm)
    return opp


def assign(session: Session, config: IngestConfig, signal: Signal, account: Account, actor: str) -> Opportunity:
    """A human decided the account of a signal that waited for review; the pipeline goes on from clustering."""
    if signal.status != "needs_review":
        raise Conflict(
            "the signal already has an account; detach or merge opportunities instead", code="already_attributed"
        )
    contributor = session.get(Contributor, signal.contributor_id)
    assert contributor is not None
    signal.account_id = account.id
    signal.status = "attributed"
    signal.attribution = {
        **signal.attribution,
        "method": "manual",
        "confidence": 1.0,
        "evidence": {**signal.attribution.get("evidence", {}), "assigned_by": actor},
    }
    session.add(signal)
    return place(session, config, signal, account, contributor.email or "")


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
