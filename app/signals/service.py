"""Signal intake and review: validate, run the ingest pipeline (app/signals/ingest.py), answer. Never commits."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.core.auth import ContributorNotAllowed, Principal, Scope
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.timeutil import as_utc, utcnow
from app.duplicates import labels
from app.mandates import service as mandates
from app.opportunities import service as opportunities
from app.opportunities.models import Opportunity
from app.signals import ingest as pipeline
from app.signals.ingest import IngestConfig as IngestConfig  # the config callers build
from app.signals.models import Signal
from app.signals.repo import SignalRepo
from schemas.common import FieldError, Money
from schemas.opportunities import ReviewItem
from schemas.signals import (
    AccountRef,
    AttributionRead,
    CandidateRead,
    ContributorSummary,
    DuplicateCandidate,
    OpportunityRef,
    SignalCreate,
    SignalRead,
)

FUTURE_TOLERANCE = timedelta(minutes=10)
# Deadlock and serialization failure: the transaction lost to a concurrent one and may simply run again.
RETRYABLE_SQLSTATES = {"40P01", "40001"}
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class IngestResult:
    signal: Signal
    created: bool
    read: SignalRead


def retryable(exc: IntegrityError | OperationalError) -> bool:
    """A conflict with a concurrent transaction that running again resolves: a unique violation (someone
    stored the same source reference first: the rerun answers 200), a deadlock, SQLite's "database is locked"."""
    code = getattr(exc.orig, "sqlstate", None)
    return isinstance(exc, IntegrityError) or code in RETRYABLE_SQLSTATES or "locked" in str(exc.orig)


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
    if data.observed_at is not None and as_utc(data.observed_at) < EARLIEST:
        errors.append(FieldError(field="observed_at", code="too_old", reason="must be in 1970 or later"))
    if errors:
        raise InvalidInput("; ".join(f"{e.field}: {e.reason}" for e in errors), errors=errors)


def ingest_many(
    session: Session, config: IngestConfig, batch: list[SignalCreate], api_key_id: uuid.UUID | None
) -> list[IngestResult | InvalidInput]:
    """Store a batch of signals (one result or one error per item, in order); repeats answer with the original."""
    errors: dict[int, InvalidInput] = {}
    drafts = []
    for i, data in enumerate(batch):
        try:
            check_vocabulary(data, config)
        except InvalidInput as exc:
            errors[i] = exc
            continue
        drafts.append(pipeline.Draft(index=i, data=data, observed_at=pipeline.observed(data)))
    outcomes = pipeline.run(session, config, drafts, api_key_id)
    policy = config.mandates.get(session)
    results: list[IngestResult | InvalidInput] = []
    for i in range(len(batch)):
        if i in errors:
            results.append(errors[i])
            continue
        o = outcomes[i]
        if o.contributor is not None:
            read = build_read(o.signal, o.contributor, o.account, o.opportunity, policy)
        else:
            read = to_read(session, o.signal, policy=policy)
        results.append(IngestResult(o.signal, o.created, read))
    return results


def ingest(session: Session, config: IngestConfig, data: SignalCreate, api_key_id: uuid.UUID | None) -> IngestResult:
    """Store one signal, attributed and placed in an opportunity; or return the one it repeats (created=False)."""
    (result,) = ingest_many(session, config, [data], api_key_id)
    if isinstance(result, InvalidInput):
        raise result
    return result


def assign(session: Session, config: IngestConfig, signal: Signal, account: Account, actor: str) -> Opportunity:
    """A human decided the account of a signal that waited for review; the pipeline goes on from clustering."""
    # Under the account's lock and re-read: two concurrent assignments cannot both place the signal.
    opportunities.lock(session, account.id, signal)
    if signal.status != "needs_review":
        raise Conflict(
            "the signal already has an account; detach or merge opportunities instead", code="already_attributed"
        )
    signal.account_id = account.id
    signal.status = "attributed"
    signal.attribution = {
        **signal.attribution,
        "method": "manual",
        "confidence": 1.0,
        "evidence": {**signal.attribution.get("evidence", {}), "assigned_by": actor},
    }
    session.add(signal)
    suggested = [c.get("account_id") for c in signal.attribution.get("candidates", [])]
    labels.record(
        session,
        labels.ATTRIBUTION,
        True,
        actor,
        signal_id=signal.id,
        account_id=account.id,
        suggested=suggested[:3],
        suggestion_taken=str(account.id) in suggested[:1],
    )
    return pipeline.place_reviewed(session, config, signal, account)


def review_queue(session: Session, principal: Principal, before: uuid.UUID | None, limit: int) -> list[ReviewItem]:
    """Up to ``limit`` signals whose account could not be decided (newest first), each with up to 3 suggestions.
    A principal bound to a contributor sees only that person's."""
    repo = SignalRepo(session)
    rows = repo.list(
        contributor_id=principal.contributor_id,
        account_id=None,
        kind=None,
        status="needs_review",
        observed_from=None,
        observed_to=None,
        before=before,
        limit=limit,
    )
    people, _, _ = repo.related(rows)
    items = [
        ReviewItem(
            signal=build_read(s, people[s.contributor_id], None, None),
            suggestions=[CandidateRead.model_validate(c) for c in s.attribution.get("candidates", [])[:3]],
        )
        for s in rows
    ]
    return items


def check_authors(session: Session, principal: Principal, authors: list[tuple[str, str]]) -> None:
    """Each (field, contributor e-mail) must be someone ``principal`` may report as (``Principal.may_post_as``):
    otherwise 403 naming every such field, before anything is stored."""
    if principal.has(Scope.signals_write_any) or not authors:
        return
    emails = sorted({email for _, email in authors})
    known = dict(
        session.exec(select(Contributor.email, Contributor.id).where(col(Contributor.email).in_(emails))).all()
    )
    refused = [
        FieldError(
            field=field,
            code="contributor_not_allowed",
            reason="this key reports only as its own contributor; reporting in another's name needs signals:write:any",
        )
        for field, email in authors
        if not principal.may_post_as(known.get(email))
    ]
    if refused:
        raise ContributorNotAllowed(
            "; ".join(f"{e.field}: {e.reason}" for e in refused[:5]),
            errors=refused,
            required_scope=Scope.signals_write_any.value,
        )


def get(session: Session, signal_id: uuid.UUID, principal: Principal | None = None) -> Signal:
    """A signal by id; 404 if unknown or, for a key bound to a contributor, someone else's (never 403)."""
    signal = SignalRepo(session).by_id(signal_id)
    if signal is None or (principal is not None and not principal.sees(signal.contributor_id)):
        raise NotFound(f"no signal {signal_id}")
    return signal


def to_read(
    session: Session,
    signal: Signal,
    contributor: Contributor | None = None,
    account: Account | None = None,
    opp: Opportunity | None = None,
    policy: mandates.Policy | None = None,
) -> SignalRead:
    contributor = contributor or session.get(Contributor, signal.contributor_id)
    assert contributor is not None
    if account is None and signal.account_id:
        account = session.get(Account, signal.account_id)
    if opp is None and signal.opportunity_id:
        opp = session.get(Opportunity, signal.opportunity_id)
    return build_read(signal, contributor, account, opp, policy or mandates.load(session))


_SIGNAL_ID = re.compile(r"signal [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _unnamed(reasons: list[str]) -> list[str]:
    return [_SIGNAL_ID.sub("one of its signals", r) for r in reasons]


def seen_by(read: SignalRead, principal: Principal) -> SignalRead:
    """``read`` as ``principal`` may see it. A key bound to a contributor learns how many signals its signal
    matched, not which: they may be other people's (ids included), so match ids become a count and explanations
    that name a signal say "one of its signals"."""
    if not principal.bound:
        return read
    update: dict[str, Any] = {}
    if read.duplicate_candidates:
        update["duplicate_candidates"] = [
            c.model_copy(update={"reasons": _unnamed(c.reasons)}) for c in read.duplicate_candidates
        ]
    if read.opportunity is not None and read.opportunity.match:
        match = dict(read.opportunity.match)
        if "matched_signal_ids" in match:
            match["matched_signal_count"] = len(match.pop("matched_signal_ids") or [])
        if isinstance(match.get("reason"), str):
            match["reason"] = _unnamed([match["reason"]])[0]
        match["duplicate_candidates"] = [
            {**c, "reasons": _unnamed(list(c.get("reasons", [])))} for c in match.get("duplicate_candidates", [])
        ]
        update["opportunity"] = read.opportunity.model_copy(update={"match": match})
    return read.model_copy(update=update) if update else read


def build_read(
    signal: Signal,
    contributor: Contributor,
    account: Account | None,
    opp: Opportunity | None,
    policy: mandates.Policy | None = None,
) -> SignalRead:
    """The signal as answered; with the mandate ``policy``, also what the contributor may do with it."""
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
        duplicate_candidates=[
            DuplicateCandidate.model_validate(c) for c in signal.match.get("duplicate_candidates", [])
        ],
        mandate=policy.for_signal(contributor.function, signal.kind, signal.value_amount, signal.value_currency)
        if policy is not None
        else None,
    )
