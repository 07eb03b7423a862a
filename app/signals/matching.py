"""Glue between ingest and the pure engines: attribution (app.attribution) and clustering (app.clustering)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from app import attribution, clustering
from app.models import Account, Contributor, Opportunity, Signal
from app.opportunities.repo import OpportunityRepo
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


def signal_text(signal: Signal, email: str) -> clustering.SignalText:
    return clustering.SignalText(
        id=str(signal.id),
        contributor=email,
        kind=signal.kind,
        title=signal.title,
        body=signal.body,
        observed_at=signal.observed_at,
        source_system=signal.source_system,
        source_reference=signal.source_reference,
        opportunity_ref=signal.opportunity_ref,
    )


def place(
    session: Session,
    new: clustering.SignalText,
    account: Account,
    window: timedelta,
    *,
    exclude: uuid.UUID | None = None,
) -> tuple[clustering.ClusterDecision, dict[str, Opportunity]]:
    """Where ``new`` goes among the account's open opportunities active within the window.

    Takes the account's row lock first, so concurrent signals about one account are placed one at a time.
    """
    repo = OpportunityRepo(session)
    repo.lock_account(account.id)
    opps = repo.open_near(account.id, new.observed_at - window)
    by_id = {str(o.id): o for o in opps}
    members: dict[uuid.UUID, list[clustering.SignalText]] = {o.id: [] for o in opps}
    if opps:
        rows = session.exec(
            select(Signal, Contributor.email)
            .join(Contributor, col(Contributor.id) == col(Signal.contributor_id))
            .where(col(Signal.opportunity_id).in_(list(members)))
        )
        for s, email in rows:
            if s.id != exclude and s.opportunity_id is not None:
                members[s.opportunity_id].append(signal_text(s, email or ""))
    candidates = [
        clustering.OpportunityCandidate(id=str(o.id), crm_id=o.crm_id, signals=tuple(members[o.id]))
        for o in opps
        if members[o.id]
    ]
    names = [account.name, *([account.legal_name] if account.legal_name else []), *account.aliases]
    decision = clustering.decide(
        new, candidates, clustering.ClusterSettings(window_days=window.days), account_names=names
    )
    return decision, by_id


def match_record(decision: clustering.ClusterDecision) -> dict[str, Any]:
    """Why a signal joined (or opened) its opportunity."""
    return {
        "reason": decision.reason,
        "score": round(decision.score, 4),
        "scores": decision.scores,
        "matched_signal_ids": list(decision.matched_signal_ids),
    }
