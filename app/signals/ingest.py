"""Set-based intake: a batch of signals is attributed, clustered, credited and stored with a fixed number of
queries, whatever its size. The single-signal endpoint is a batch of one, so both share every rule.

Order of work: repeats by source reference → attribution (in memory) → account row locks → candidate
opportunities of those accounts → clustering in observation order (re-posts store nothing) → contributors
(one upsert) → signals, opportunities, credits, sync outbox (one flush).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.core.dbutil import insert_for
from app.core.errors import InvalidInput
from app.core.ids import uuid7
from app.core.timeutil import as_utc, utcnow
from app.dedup import records as dedup
from app.duplicates import suggestions as duplicates
from app.notifications.events import Event, emit_many
from app.opportunities.models import Opportunity
from app.opportunities.repo import OpportunityRepo
from app.opportunities.service import absorb, credit_signals, new_opportunity, touch
from app.routing import service as routing
from app.signals import matching
from app.signals.models import Signal
from schemas.signals import SignalCreate


@dataclass
class Item:
    """One signal of the batch on its way through the pipeline."""

    index: int
    data: SignalCreate
    observed_at: datetime
    error: InvalidInput | None = None
    existing: Signal | None = None  # a repeat (source reference or re-post): answered 200 with this
    signal: Signal | None = None
    account: Account | None = None
    named: Opportunity | None = None
    opportunity: Opportunity | None = None
    same_as: Item | None = None  # an earlier item of this batch with the same source reference
    contributor: Contributor | None = None

    def resolved(self) -> Signal | None:
        """The stored signal that answers this item: its own, or the one it repeats."""
        if self.same_as is not None:
            return self.same_as.resolved()
        return self.existing or self.signal


def run(session: Session, config: Any, items: list[Item], api_key_id: uuid.UUID | None) -> None:
    """Process ``items`` (already validated against the vocabulary) in the caller's transaction."""
    live = [it for it in items if it.error is None]
    _repeats_by_reference(session, live)
    live = [it for it in live if it.existing is None and it.same_as is None]
    if not live:
        return
    with config.directory.reading(session) as index:
        attributions: dict[int, dict[str, Any]] = {}
        account_ids: dict[int, uuid.UUID] = {}
        repo = OpportunityRepo(session)
        for it in live:
            decided = matching.attribute(index, it.data.customer, f"{it.data.title}\n{it.data.body}")
            attributions[it.index] = matching.attribution_record(decided)
            if decided.account_id:
                account_ids[it.index] = uuid.UUID(decided.account_id)
            if it.data.opportunity_ref:
                it.named = repo.by_ref(it.data.opportunity_ref)
                if it.named is not None and account_ids.get(it.index) != it.named.account_id:
                    # The tool named the opportunity: that decides the account, whatever the hint suggested.
                    record = attributions[it.index]
                    record["evidence"] = {**record["evidence"], "overridden": record["method"]}
                    record.update(method="opportunity_ref", confidence=1.0)
                    account_ids[it.index] = it.named.account_id
    accounts = matching.lock_accounts(session, set(account_ids.values()))
    # Opportunities read before the account lock may have changed since: read them again under it.
    for it in live:
        if it.named is not None:
            session.refresh(it.named)
    since = min(it.observed_at for it in live) - config.horizon
    pools = matching.candidate_pools(session, accounts, since)
    corpus, model = config.matcher.corpus.get(session), config.matcher.models.get(session)
    suggested: list[tuple[Signal, Account, dedup.Decision]] = []

    for it in sorted(live, key=lambda i: (i.observed_at, i.index)):
        account = accounts.get(account_ids[it.index]) if it.index in account_ids else None
        signal = _new_signal(it, account, attributions[it.index], api_key_id)
        if account is not None:
            text = matching.signal_text(signal, it.data.contributor.email)
            pool = pools[account.id]
            decision = matching.decide(pool, text, corpus, model, config.max_age_days)
            if decision.repost_of is not None:
                it.existing = _signal_by_id(session, live, decision.repost_of)
                continue
            config.matcher.corpus.add(text.title, text.body)
            target = it.named or (pool[decision.opportunity_id].opp if decision.opportunity_id else None)
            signal.match = matching.match_record(decision)
            if decision.candidates and it.named is None:
                suggested.append((signal, account, decision))
            if it.named is not None:
                signal.match = {"reason": f"the payload names opportunity {it.data.opportunity_ref}", "score": 1.0}
            target = target or new_opportunity(account, signal)
            pool.setdefault(str(target.id), matching.Cluster(target)).members.append(text)
            it.opportunity = target
        it.signal = signal
        it.account = account

    stored = [it for it in live if it.signal is not None and it.existing is None]
    if not stored:
        return
    people = _upsert_contributors(session, stored)
    for it in stored:
        assert it.signal is not None
        it.contributor = people[it.data.contributor.email]
        it.signal.contributor_id = it.contributor.id
    placed = [(it.opportunity, it.signal) for it in stored if it.opportunity is not None and it.signal is not None]
    opps = list({opp.id: opp for opp, _ in placed}.values())
    fresh = {opp.id for opp in opps if opp.version == 0}
    for opp, signal in placed:
        absorb(opp, signal)
    # Inserted in source-reference order, so concurrent batches meet on the unique index in one order.
    new_signals: list[Signal] = [it.signal for it in stored if it.signal is not None]
    new_signals.sort(key=_insert_order)
    session.add_all(new_signals)
    touch(session, opps, config.crm)  # versions set before the first INSERT: one statement per row
    credit_signals(session, placed, fresh=fresh)
    _route_opened(session, [it for it in stored if it.opportunity is not None and it.opportunity.id in fresh])
    duplicates.suggest(session, suggested)
    notify_placed(session, [(opp, signal, opp.id not in fresh) for opp, signal in placed])


def _route_opened(session: Session, items: list[Item]) -> None:
    """Give each opportunity this batch opened its route, from the earliest signal that went into it."""
    openings: dict[uuid.UUID, routing.Opening] = {}
    for it in sorted(items, key=lambda i: (i.observed_at, i.index)):
        assert it.opportunity is not None and it.signal is not None and it.contributor is not None
        if it.opportunity.id not in openings:
            openings[it.opportunity.id] = routing.opening(it.signal, it.contributor, it.account)
    routing.route_new(session, list(openings.items()))


def _insert_order(signal: Signal) -> tuple[str, str, str]:
    return signal.source_system, signal.source_reference or "", str(signal.id)


def notify_placed(session: Session, placed: list[tuple[Opportunity, Signal, bool]]) -> None:
    """Tell subscribers a signal was attributed, and merged when it joined an existing opportunity."""
    out = []
    for opp, signal, joined in placed:
        method = signal.attribution.get("method")
        out.append(Event("signal.attributed", opp.id, signal.id, {"account_id": str(opp.account_id), "method": method}))
        if joined:
            out.append(Event("signal.merged", opp.id, signal.id, {"signal_count": opp.signal_count}))
    emit_many(session, out)


def _repeats_by_reference(session: Session, items: list[Item]) -> None:
    refs = {(it.data.source.system, it.data.source.reference) for it in items if it.data.source.reference}
    if not refs:
        return
    found: dict[tuple[str, str | None], Signal] = {}
    systems = {s for s, _ in refs}
    references = [r for _, r in refs]
    for start in range(0, len(references), 1000):
        chunk = references[start : start + 1000]
        for s in session.exec(
            select(Signal).where(col(Signal.source_system).in_(systems), col(Signal.source_reference).in_(chunk))
        ):
            found[(s.source_system, s.source_reference)] = s
    first_in_batch: dict[tuple[str, str | None], Item] = {}
    for it in items:
        key = (it.data.source.system, it.data.source.reference)
        if it.data.source.reference is None:
            continue
        if key in found:
            it.existing = found[key]
        elif key in first_in_batch:
            it.same_as = first_in_batch[key]
        else:
            first_in_batch[key] = it


def _new_signal(it: Item, account: Account | None, attribution: dict[str, Any], api_key_id: uuid.UUID | None) -> Signal:
    d = it.data
    return Signal(
        id=uuid7(),
        contributor_id=uuid.UUID(int=0),  # set once the contributors are upserted
        kind=d.kind,
        title=d.title,
        body=d.body,
        value_amount=d.value.amount if d.value else None,
        value_currency=d.value.currency if d.value else None,
        observed_at=it.observed_at,
        received_at=utcnow(),
        source_system=d.source.system,
        source_reference=d.source.reference,
        source_url=str(d.source.url) if d.source.url else None,
        customer_hint=d.customer.model_dump(exclude_none=True),
        opportunity_ref=d.opportunity_ref,
        api_key_id=api_key_id,
        attribution=attribution,
        account_id=account.id if account else None,
        status="attributed" if account else "needs_review",
    )


def _signal_by_id(session: Session, items: list[Item], signal_id: str) -> Signal:
    for it in items:
        if it.signal is not None and str(it.signal.id) == signal_id:
            return it.signal
    found = session.get(Signal, uuid.UUID(signal_id))
    assert found is not None
    return found


def _upsert_contributors(session: Session, items: list[Item]) -> dict[str, Contributor]:
    """One statement for every contributor of the batch; later posts add details, never erase them."""
    stats: dict[str, dict[str, Any]] = {}
    for it in items:
        c = it.data.contributor
        row = stats.setdefault(
            c.email,
            {
                "id": uuid7(),
                "email": c.email,
                "name": None,
                "function": "other",
                "team": None,
                "created_at": utcnow(),
                "first_signal_at": it.observed_at,
                "last_signal_at": it.observed_at,
                "signal_count": 0,
                "_function": None,
            },
        )
        row["signal_count"] += 1
        row["first_signal_at"] = min(row["first_signal_at"], it.observed_at)
        row["last_signal_at"] = max(row["last_signal_at"], it.observed_at)
        row["name"] = c.name or row["name"]
        row["team"] = c.team or row["team"]
        if c.function:
            row["function"] = row["_function"] = c.function
    table = Contributor.__table__  # type: ignore[attr-defined]
    # Sorted, so concurrent batches lock contributor rows in one order and cannot deadlock on them.
    values = [{k: v for k, v in r.items() if not k.startswith("_")} for _, r in sorted(stats.items())]
    # Parameters go separately from the statement, so its compiled form is cached across batches.
    stmt = insert_for(session, table)
    ex = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["email"],
        set_={
            "signal_count": table.c.signal_count + ex.signal_count,
            "name": sa.func.coalesce(ex.name, table.c.name),
            "team": sa.func.coalesce(ex.team, table.c.team),
            # "other" is the default, not a statement: it never overwrites a known function.
            "function": sa.case((ex.function == "other", table.c.function), else_=ex.function),
            "first_signal_at": sa.case(
                (table.c.first_signal_at.is_(None), ex.first_signal_at),
                (table.c.first_signal_at < ex.first_signal_at, table.c.first_signal_at),
                else_=ex.first_signal_at,
            ),
            "last_signal_at": sa.case(
                (table.c.last_signal_at.is_(None), ex.last_signal_at),
                (table.c.last_signal_at > ex.last_signal_at, table.c.last_signal_at),
                else_=ex.last_signal_at,
            ),
        },
    ).returning(*table.c)
    people: dict[str, Contributor] = {}
    for returned in session.execute(stmt, values).mappings():
        person = Contributor.model_validate(dict(returned))
        people[person.email or ""] = person
    return people


def observed(data: SignalCreate) -> datetime:
    return as_utc(data.observed_at) if data.observed_at else utcnow()
