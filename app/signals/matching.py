"""Glue between ingest and the pure engines: attribution (app.attribution) and deduplication (app.dedup)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app import attribution
from app.accounts.models import Account
from app.contributors.models import Contributor
from app.dedup import records as dedup
from app.dedup.corpus import Corpus
from app.dedup.decide import MAX_CANDIDATES, MAX_MEMBERS
from app.dedup.decide import decide as dedup_decide
from app.dedup.model import DedupModel
from app.opportunities.models import Opportunity
from app.signals.models import Signal
from schemas.signals import CustomerHint


def attribute(index: attribution.AccountIndex, hint: CustomerHint, text: str) -> attribution.Attribution:
    return attribution.attribute(
        attribution.CustomerHint(
            crm_account_id=hint.crm_account_id, email=hint.email, domain=hint.domain, name=hint.name
        ),
        index,
        text=text,
    )


def attribution_record(result: attribution.Attribution) -> dict[str, Any]:
    """The stored, explainable form of an attribution decision."""
    return {
        "method": result.method,
        "confidence": round(result.confidence, 4),
        "evidence": result.evidence,
        "candidates": [asdict(c) for c in result.candidates],
    }


def signal_text(signal: Signal, email: str) -> dedup.SignalText:
    return dedup.SignalText(
        id=str(signal.id),
        contributor=email,
        kind=signal.kind,
        title=signal.title,
        body=signal.body,
        observed_at=signal.observed_at,
        source_system=signal.source_system,
        source_reference=signal.source_reference,
    )


@dataclass
class Cluster:
    """An open opportunity as deduplication sees it: its most recent signals."""

    opp: Opportunity
    members: list[dedup.SignalText] = field(default_factory=list)


def lock_accounts(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Account]:
    """Row-lock the accounts, in id order (no deadlocks): signals about one account are matched one at a time."""
    if not ids:
        return {}
    return {a.id: a for a in session.exec(_LOCK_ACCOUNTS, params={"ids": list(ids)})}


# The statements every ingest runs are built once, at import, with their values as bound parameters: building
# a statement costs more CPU than PostgreSQL spends running it, and the compiled form is cached by SQLAlchemy
# either way. (ingest.py's follow the same rule.)
_LOCK_ACCOUNTS = (
    select(Account)
    .where(col(Account.id).in_(sa.bindparam("ids", expanding=True)))
    .order_by(col(Account.id))
    .with_for_update()
)
_RECENT_OPPS = (
    sa.select(
        Opportunity.id,  # type: ignore[call-overload]
        sa.func.row_number()
        .over(partition_by=col(Opportunity.account_id), order_by=col(Opportunity.last_seen_at).desc())
        .label("rank"),
    )
    .where(
        col(Opportunity.account_id).in_(sa.bindparam("accounts", expanding=True)),
        col(Opportunity.merged_into_id).is_(None),
        Opportunity.status == "open",
        Opportunity.last_seen_at >= sa.bindparam("since"),
    )
    .subquery()
)
_OPEN_OPPS = (
    select(Opportunity)
    .join(_RECENT_OPPS, _RECENT_OPPS.c.id == Opportunity.id)
    .where(_RECENT_OPPS.c.rank <= MAX_CANDIDATES)
    .execution_options(populate_existing=True)  # read under the account lock: never a stale copy
)
# Only the columns matching reads: no ORM objects for what is never written back.
_MEMBERS = (
    sa.select(
        Signal.id,  # type: ignore[call-overload]
        Signal.opportunity_id,
        Signal.contributor_id,
        Signal.kind,
        Signal.title,
        Signal.body,
        Signal.observed_at,
        Signal.source_system,
        Signal.source_reference,
        sa.func.row_number()
        .over(partition_by=col(Signal.opportunity_id), order_by=col(Signal.observed_at).desc())
        .label("rank"),
    )
    .where(col(Signal.opportunity_id).in_(sa.bindparam("opps", expanding=True)))
    .subquery()
)
_RECENT_MEMBERS = (
    sa.select(_MEMBERS, col(Contributor.email))
    .join(Contributor, col(Contributor.id) == _MEMBERS.c.contributor_id)
    .where(_MEMBERS.c.rank <= MAX_MEMBERS)
)


def candidate_pools(
    session: Session, accounts: dict[uuid.UUID, Account], since: datetime, *, exclude: uuid.UUID | None = None
) -> dict[uuid.UUID, dict[str, Cluster]]:
    """Per account, its open opportunities active since ``since`` (the most recently active
    ``MAX_CANDIDATES``), each with its ``MAX_MEMBERS`` most recent signals. Two queries for any number of
    accounts; the limits are applied in SQL, so a huge account or opportunity costs no more than a normal one."""
    pools: dict[uuid.UUID, dict[str, Cluster]] = defaultdict(dict)
    if not accounts:
        return pools
    opps = session.exec(_OPEN_OPPS, params={"accounts": list(accounts), "since": since}).all()
    by_id = {o.id: o for o in opps}
    for o in opps:
        pools[o.account_id][str(o.id)] = Cluster(o)
    if not by_id:
        return pools
    rows = session.execute(_RECENT_MEMBERS, {"opps": list(by_id)})
    for r in rows:
        if r.id == exclude:
            continue
        pools[by_id[r.opportunity_id].account_id][str(r.opportunity_id)].members.append(
            dedup.SignalText(
                id=str(r.id),
                contributor=r.email or "",
                kind=r.kind,
                title=r.title,
                body=r.body,
                observed_at=r.observed_at,
                source_system=r.source_system,
                source_reference=r.source_reference,
            )
        )
    return pools


def candidates_of(pool: dict[str, Cluster]) -> list[dedup.OpportunityCandidate]:
    return [
        dedup.OpportunityCandidate(id=key, crm_id=c.opp.crm_id, signals=tuple(c.members))
        for key, c in pool.items()
        if c.members
    ]


def decide(
    pool: dict[str, Cluster], new: dedup.SignalText, corpus: Corpus, model: DedupModel, max_age_days: int
) -> dedup.Decision:
    return dedup_decide(new, candidates_of(pool), corpus, model, max_age_days)


def match_record(decision: dedup.Decision) -> dict[str, Any]:
    """Why a signal joined (or opened) its opportunity, and the duplicate candidates it was given."""
    return {
        "outcome": decision.outcome,
        "reason": decision.reason,
        "score": round(decision.score, 4),
        "scores": decision.scores,
        "matched_signal_ids": list(decision.matched_signal_ids),
        # the model's inputs for the opportunity joined: a later detach labels the pair from them
        "features": [round(v, 6) for v in decision.features],
        "duplicate_candidates": [
            {"opportunity_id": c.opportunity_id, "score": c.score, "reasons": list(c.reasons)}
            for c in decision.candidates
        ],
    }
