"""Set-based intake as a pipeline: a batch of signals is attributed, clustered, credited and stored with a fixed
number of queries, whatever its size. The single-signal endpoint is a batch of one, and a signal a human assigns
after review goes through the same placement and settlement, so every rule here is written once.

Each step takes the previous step's immutable output and returns its own:

    drafts ─ repeats ─▶ fresh drafts ─ attribute ─▶ Attributed ─ lock, pools, place ─▶ Placed
           ─ store (contributors, signals) ─▶ Stored ─ settle (opportunities, credits, outbox) ─▶ effects

The effects the caller sees (routes for new opportunities, notification events) are returned by ``settle`` and
applied at the call site, in the same transaction.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.accounts.directory import AccountDirectory
from app.accounts.models import Account
from app.contributors.models import Contributor
from app.core.dbutil import insert_for_dialect
from app.core.ids import uuid7
from app.core.rows import new_row
from app.core.settings import Settings
from app.core.timeutil import as_utc, utcnow
from app.core.versions import Versioned
from app.dedup import records as dedup
from app.dedup.corpus import Corpus
from app.dedup.model import DedupModel
from app.duplicates import suggestions as duplicates
from app.duplicates.matcher import Matcher
from app.mandates import service as mandates
from app.mandates.service import Policy
from app.notifications import events as notification_events
from app.notifications.events import Active, Event, emit_many
from app.opportunities.models import Opportunity
from app.opportunities.repo import OpportunityRepo
from app.opportunities.service import absorb, credit_signals, new_opportunity, touch
from app.routing import service as routing
from app.routing.models import RoutingRule
from app.signals import matching
from app.signals.models import Signal
from schemas.signals import SignalCreate


@dataclass(frozen=True)
class IngestConfig:
    """What ingest needs from the settings, and this process's account directory."""

    kinds: frozenset[str]
    functions: frozenset[str]
    crm: str | None
    max_age_days: int
    directory: AccountDirectory = field(default_factory=AccountDirectory, compare=False)
    matcher: Matcher = field(default_factory=lambda: Matcher(365), compare=False)
    # Per-process copies of what every signal reads and an administrator rarely changes (app/core/versions.py).
    mandates: Versioned[Policy] = field(default_factory=mandates.cached, compare=False)
    routing_rules: Versioned[list[RoutingRule]] = field(default_factory=routing.cached, compare=False)
    subscriptions: Versioned[Active] = field(default_factory=notification_events.cached, compare=False)

    @property
    def horizon(self) -> timedelta:
        return timedelta(days=self.max_age_days)

    def judge(self, session: Session) -> Judge:
        """The deduplication model and corpus as of this transaction."""
        return Judge(self.matcher.corpus.get(session), self.matcher.models.get(session), self.max_age_days)

    @classmethod
    def from_settings(cls, settings: Settings, directory: AccountDirectory | None = None) -> IngestConfig:
        return cls(
            kinds=frozenset(settings.signal_kinds),
            functions=frozenset(settings.contributor_functions),
            crm=None if settings.crm == "none" else settings.crm,
            max_age_days=settings.match_max_age_days,
            directory=directory or AccountDirectory(),
            matcher=Matcher(settings.match_max_age_days),
        )


@dataclass(frozen=True)
class Draft:
    """One valid item of the batch, at its position."""

    index: int
    data: SignalCreate
    observed_at: datetime


@dataclass(frozen=True)
class Attributed:
    draft: Draft
    attribution: dict[str, Any]  # the stored, explainable decision
    account_id: uuid.UUID | None
    named: Opportunity | None  # the opportunity the payload names (opportunity_ref), if it exists


@dataclass(frozen=True)
class Judge:
    """What deduplication decides with (app/dedup)."""

    corpus: Corpus
    model: DedupModel
    max_age_days: int


@dataclass(frozen=True)
class Placement:
    """Where a signal goes: an open opportunity (``target``), a new one (neither), or nowhere, as a re-post."""

    target: Opportunity | None
    match: dict[str, Any]
    decision: dedup.Decision
    repost_of: str | None = None


@dataclass(frozen=True)
class Placed:
    """A new signal row (not stored yet) with its account and opportunity; ``opened`` when it opens it."""

    draft: Draft
    signal: Signal
    account: Account | None
    opportunity: Opportunity | None
    opened: bool


@dataclass(frozen=True)
class Outcome:
    """What answers one item: the stored signal, whether this batch created it, and what the answer shows."""

    signal: Signal
    created: bool
    contributor: Contributor | None = None
    account: Account | None = None
    opportunity: Opportunity | None = None


@dataclass(frozen=True)
class Effects:
    """The side effects of placing signals, applied by the caller in its transaction (``apply``)."""

    openings: list[tuple[uuid.UUID, routing.Opening]]
    events: list[Event]
    follow_ups: bool  # whether captured signals may be concerned (never at intake: their origin comes after)

    def apply(self, session: Session, config: IngestConfig) -> None:
        if self.openings:
            routing.route_new(session, self.openings, config.routing_rules.get(session))
        emit_many(session, self.events, follow_ups=self.follow_ups, subscriptions=config.subscriptions)


def observed(data: SignalCreate) -> datetime:
    return as_utc(data.observed_at) if data.observed_at else utcnow()


def run(
    session: Session, config: IngestConfig, drafts: Sequence[Draft], api_key_id: uuid.UUID | None
) -> dict[int, Outcome]:
    """Ingest ``drafts`` (already validated against the vocabulary) in the caller's transaction; an outcome per
    draft index. The steps' order is the lock order: account rows (by id), then contributors (by e-mail), then
    signals (by source reference)."""
    outcomes, fresh = find_repeats(session, drafts)
    if not fresh:
        return answers(drafts, outcomes)
    attributed = attribute(session, config.directory, fresh)
    accounts = matching.lock_accounts(session, {a.account_id for a in attributed if a.account_id})
    # Opportunities read before the account lock may have changed since: read them again under it.
    for a in attributed:
        if a.named is not None:
            session.refresh(a.named)
    pools = matching.candidate_pools(session, accounts, min(d.observed_at for d in fresh) - config.horizon)
    placed, reposts, suggested = place_all(attributed, accounts, pools, config, config.judge(session), api_key_id)
    people = store_signals(session, placed)
    effects = settle(
        session, config, [(p.opportunity, p.signal) for p in placed if p.opportunity], people.values(), accounts
    )
    effects.apply(session, config)
    duplicates.suggest(session, suggested)
    for p in placed:
        outcomes[p.draft.index] = Outcome(
            p.signal, True, people[p.draft.data.contributor.email], p.account, p.opportunity
        )
    by_id = {str(p.signal.id): p.signal for p in placed}
    for index, signal_id in reposts.items():
        outcomes[index] = Outcome(by_id.get(signal_id) or _stored(session, signal_id), False)
    return answers(drafts, outcomes)


# Built once, like matching's statements (see there why).
_STORED_REFS = sa.select(
    Signal.id,  # type: ignore[call-overload]
    Signal.source_system,
    Signal.source_reference,
).where(
    col(Signal.source_system).in_(sa.bindparam("systems", expanding=True)),
    col(Signal.source_reference).in_(sa.bindparam("references", expanding=True)),
)
_SIGNALS_BY_ID = select(Signal).where(col(Signal.id).in_(sa.bindparam("ids", expanding=True)))


def find_repeats(session: Session, drafts: Sequence[Draft]) -> tuple[dict[int, Outcome], list[Draft]]:
    """Drafts whose source reference is stored (or earlier in this batch) are answered with that signal, once
    it is known; the rest go on."""
    refs = {(d.data.source.system, d.data.source.reference) for d in drafts if d.data.source.reference}
    found: dict[tuple[str, str | None], Signal] = {}
    if refs:
        systems = sorted({s for s, _ in refs})
        references = [r for _, r in refs]
        # Columns first, whole signals only for the references found: nearly every signal is new, and a plain
        # column read skips the ORM's per-query set-up.
        stored: dict[uuid.UUID, tuple[str, str | None]] = {}
        for start in range(0, len(references), 1000):
            chunk = references[start : start + 1000]
            for row in session.execute(_STORED_REFS, {"systems": systems, "references": chunk}):
                if (row.source_system, row.source_reference) in refs:
                    stored[row.id] = (row.source_system, row.source_reference)
        ids = list(stored)
        for start in range(0, len(ids), 1000):
            for s in session.exec(_SIGNALS_BY_ID, params={"ids": ids[start : start + 1000]}):
                found[stored[s.id]] = s
    outcomes: dict[int, Outcome] = {}
    fresh: list[Draft] = []
    first_in_batch: set[tuple[str, str | None]] = set()
    for d in drafts:
        key = (d.data.source.system, d.data.source.reference)
        if key in found:
            outcomes[d.index] = Outcome(found[key], False)
        elif d.data.source.reference is not None and key in first_in_batch:
            continue  # answered by the earlier item's signal: see ``answers``
        else:
            first_in_batch.add(key)
            fresh.append(d)
    return outcomes, fresh


def attribute(session: Session, directory: AccountDirectory, drafts: Sequence[Draft]) -> list[Attributed]:
    """Which account each draft is about (in memory); a named opportunity decides it, whatever the hint says."""
    with directory.reading(session) as index:
        decided = [matching.attribute(index, d.data.customer, f"{d.data.title}\n{d.data.body}") for d in drafts]
    repo = OpportunityRepo(session)
    out = []
    for d, decision in zip(drafts, decided, strict=True):
        record = matching.attribution_record(decision)
        account_id = uuid.UUID(decision.account_id) if decision.account_id else None
        named = repo.by_ref(d.data.opportunity_ref) if d.data.opportunity_ref else None
        if named is not None and account_id != named.account_id:
            record["evidence"] = {**record["evidence"], "overridden": record["method"]}
            record.update(method="opportunity_ref", confidence=1.0)
            account_id = named.account_id
        out.append(Attributed(d, record, account_id, named))
    return out


def place(
    pool: dict[str, matching.Cluster],
    text: Any,
    judge: Judge,
    *,
    named: Opportunity | None = None,
    opportunity_ref: str | None = None,
) -> Placement:
    """The placement rule: a re-post by the same person (``repost_of``; at intake it stores nothing), else the
    opportunity the payload names, else what clustering decides: an open opportunity of the account
    (``target``) or a new one (none)."""
    decision = matching.decide(pool, text, judge.corpus, judge.model, judge.max_age_days)
    target = pool[decision.opportunity_id].opp if decision.opportunity_id else None
    if decision.repost_of is not None:
        return Placement(target, matching.match_record(decision), decision, repost_of=decision.repost_of)
    if named is not None:
        reason = {"reason": f"the payload names opportunity {opportunity_ref}", "score": 1.0}
        return Placement(named, reason, decision)
    return Placement(target, matching.match_record(decision), decision)


def place_all(
    attributed: Sequence[Attributed],
    accounts: dict[uuid.UUID, Account],
    pools: dict[uuid.UUID, dict[str, matching.Cluster]],
    config: IngestConfig,
    judge: Judge,
    api_key_id: uuid.UUID | None,
) -> tuple[list[Placed], dict[int, str], list[tuple[Signal, Account, dedup.Decision]]]:
    """Place the drafts in observation order, each seeing the ones before it; re-posts by draft index, and the
    signals given duplicate candidates (for the duplicate review queue)."""
    placed: list[Placed] = []
    reposts: dict[int, str] = {}
    suggested: list[tuple[Signal, Account, dedup.Decision]] = []
    for a in sorted(attributed, key=lambda a: (a.draft.observed_at, a.draft.index)):
        account = accounts.get(a.account_id) if a.account_id else None
        signal = _new_signal(a, account, api_key_id)
        if account is None:
            placed.append(Placed(a.draft, signal, None, None, False))
            continue
        text = matching.signal_text(signal, a.draft.data.contributor.email)
        pool = pools[account.id]
        where = place(pool, text, judge, named=a.named, opportunity_ref=a.draft.data.opportunity_ref)
        if where.repost_of is not None:
            reposts[a.draft.index] = where.repost_of
            continue
        config.matcher.corpus.add(text.title, text.body)
        signal.match = where.match
        if where.decision.candidates and a.named is None:
            suggested.append((signal, account, where.decision))
        opp = where.target or new_opportunity(account, signal)
        pool.setdefault(str(opp.id), matching.Cluster(opp)).members.append(text)
        placed.append(Placed(a.draft, signal, account, opp, where.target is None))
    return placed, reposts, suggested


def store_signals(session: Session, placed: Sequence[Placed]) -> dict[str, Contributor]:
    """Upsert the contributors (one statement) and add the new signals; the contributors by e-mail."""
    if not placed:
        return {}
    people = _upsert_contributors(session, placed)
    for p in placed:
        p.signal.contributor_id = people[p.draft.data.contributor.email].id
    # Inserted in source-reference order, so concurrent batches meet on the unique index in one order.
    signals = [p.signal for p in placed]
    signals.sort(key=_insert_order)
    session.add_all(signals)
    return people


def settle(
    session: Session,
    config: IngestConfig,
    placed: Sequence[tuple[Opportunity, Signal]],
    people: Collection[Contributor],
    accounts: dict[uuid.UUID, Account],
    *,
    follow_ups: bool = False,
) -> Effects:
    """Signals join their opportunities: summaries, versions and the sync outbox, credits; returns the routes
    of the opportunities they open and the events to send. ``people``: the signals' contributors."""
    if not placed:
        return Effects([], [], follow_ups)
    opps = list({opp.id: opp for opp, _ in placed}.values())
    fresh = {opp.id for opp in opps if opp.version == 0}
    for opp, signal in placed:
        absorb(opp, signal)
    touch(session, opps, config.crm)  # versions set before the first INSERT: one statement per row
    credit_signals(session, list(placed), fresh=fresh)
    by_id = {c.id: c for c in people}
    openings: dict[uuid.UUID, routing.Opening] = {}
    for opp, signal in sorted(placed, key=lambda p: (p[1].observed_at, str(p[1].id))):
        if opp.id in fresh and opp.id not in openings:
            openings[opp.id] = routing.opening(signal, by_id[signal.contributor_id], accounts.get(opp.account_id))
    events = []
    for opp, signal in placed:
        method = signal.attribution.get("method")
        events.append(
            Event("signal.attributed", opp.id, signal.id, {"account_id": str(opp.account_id), "method": method})
        )
        if opp.id not in fresh:
            events.append(Event("signal.merged", opp.id, signal.id, {"signal_count": opp.signal_count}))
    return Effects(list(openings.items()), events, follow_ups)


def place_reviewed(session: Session, config: IngestConfig, signal: Signal, account: Account) -> Opportunity:
    """Place a stored signal whose account a human just decided, by the same rule as at intake."""
    accounts = matching.lock_accounts(session, {account.id})
    pools = matching.candidate_pools(session, accounts, signal.observed_at - config.horizon, exclude=signal.id)
    contributor = session.get(Contributor, signal.contributor_id)
    assert contributor is not None
    text = matching.signal_text(signal, contributor.email or "")
    # A re-post found here (its account was only now known) is kept: the signal is already stored.
    where = place(pools[account.id], text, config.judge(session))
    signal.match = where.match
    opp = where.target
    if opp is None:
        opp = new_opportunity(account, signal)
        session.add(opp)
    session.add(signal)
    effects = settle(session, config, [(opp, signal)], [contributor], accounts, follow_ups=True)
    effects.apply(session, config)
    duplicates.suggest(session, [(signal, account, where.decision)])
    return opp


def _insert_order(signal: Signal) -> tuple[str, str, str]:
    return signal.source_system, signal.source_reference or "", str(signal.id)


def _stored(session: Session, signal_id: str) -> Signal:
    found = session.get(Signal, uuid.UUID(signal_id))
    assert found is not None
    return found


def _new_signal(a: Attributed, account: Account | None, api_key_id: uuid.UUID | None) -> Signal:
    d = a.draft.data
    return new_row(
        Signal,
        id=uuid7(),
        contributor_id=uuid.UUID(int=0),  # set once the contributors are upserted
        kind=d.kind,
        title=d.title,
        body=d.body,
        value_amount=d.value.amount if d.value else None,
        value_currency=d.value.currency if d.value else None,
        observed_at=a.draft.observed_at,
        received_at=utcnow(),
        source_system=d.source.system,
        source_reference=d.source.reference,
        source_url=str(d.source.url) if d.source.url else None,
        customer_hint=d.customer.model_dump(exclude_none=True),
        opportunity_ref=d.opportunity_ref,
        api_key_id=api_key_id,
        attribution=a.attribution,
        account_id=account.id if account else None,
        status="attributed" if account else "needs_review",
    )


def _upsert_contributors(session: Session, placed: Sequence[Placed]) -> dict[str, Contributor]:
    """One statement for every contributor of the batch. A post fills in a name or team still empty, never
    changes a known one: that is PATCH /v1/contributors/{ref} (contributors:write), so a signal posted by an
    integration cannot rename or move a person."""
    stats: dict[str, dict[str, Any]] = {}
    for p in placed:
        c, at = p.draft.data.contributor, p.draft.observed_at
        row = stats.setdefault(
            c.email,
            {
                "id": uuid7(),
                "email": c.email,
                "name": None,
                "function": "other",
                "team": None,
                "created_at": utcnow(),
                "first_signal_at": at,
                "last_signal_at": at,
                "signal_count": 0,
            },
        )
        row["signal_count"] += 1
        row["first_signal_at"] = min(row["first_signal_at"], at)
        row["last_signal_at"] = max(row["last_signal_at"], at)
        row["name"] = c.name or row["name"]
        row["team"] = c.team or row["team"]
        if c.function:
            row["function"] = c.function
    # Sorted, so concurrent batches lock contributor rows in one order and cannot deadlock on them.
    values = [r for _, r in sorted(stats.items())]
    people: dict[str, Contributor] = {}
    for returned in session.execute(_contributor_upsert(session.get_bind().dialect.name), values).mappings():
        person = new_row(Contributor, **returned)  # our own rows, as the database returned them
        people[person.email or ""] = person
    return people


@functools.cache
def _contributor_upsert(dialect: str) -> Any:
    """The contributors' upsert on ``dialect``, built once (parameters go separately, per batch)."""
    table = Contributor.__table__  # type: ignore[attr-defined]
    stmt = insert_for_dialect(dialect, table)
    ex = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["email"],
        set_={
            "signal_count": table.c.signal_count + ex.signal_count,
            "name": sa.func.coalesce(table.c.name, ex.name),
            "team": sa.func.coalesce(table.c.team, ex.team),
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


def answers(drafts: Sequence[Draft], outcomes: dict[int, Outcome]) -> dict[int, Outcome]:
    """Fill in the drafts that repeat an earlier item of the same batch (same source reference)."""
    first: dict[tuple[str, str], Outcome] = {}
    out = dict(outcomes)
    for d in sorted(drafts, key=lambda d: d.index):
        ref = d.data.source.reference
        if ref is None:
            continue
        key = (d.data.source.system, ref)
        if d.index in out:
            first.setdefault(key, out[d.index])
        elif key in first:
            out[d.index] = replace(first[key], created=False)
    return out
