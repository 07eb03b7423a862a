"""Duplicate review: the queue of signals with duplicate candidates, and a person's accept or reject. Never
commits. Accepting merges the signal's opportunity into the candidate through the one merge rule
(app.opportunities.service.merge: credits recomputed, the CRM side handled as every merge); every decision is
stored as a label."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from app.core.auth import Principal
from app.core.errors import Conflict, NotFound
from app.core.timeutil import utcnow
from app.duplicates import labels
from app.duplicates.models import ACCEPTED, CLOSED, OPEN, REJECTED, DuplicateSuggestion
from app.duplicates.repo import SuggestionRepo
from app.opportunities import service as opportunities
from app.opportunities.models import Opportunity
from app.signals import service as signals
from app.signals.models import Signal
from app.signals.repo import SignalRepo
from schemas.duplicates import CandidateOpportunity, DuplicateReviewItem, SignalText


def queue(session: Session, principal: Principal, before: uuid.UUID | None, limit: int) -> list[DuplicateReviewItem]:
    """Up to ``limit`` signals with open duplicate candidates (newest first), each with its candidates and their
    latest signals. A principal bound to a contributor sees only that person's signals, and of a candidate's
    signals only its own (the others as the candidate's ``signal_count``)."""
    repo = SuggestionRepo(session)
    ids = repo.open_signal_ids(contributor_id=principal.contributor_id, before=before, limit=limit)
    if not ids:
        return []
    rows = repo.signals(ids)
    people, accounts, opps = SignalRepo(session).related(rows)
    open_ = repo.open_for(ids)
    texts = repo.recent_signals({o.id for pairs in open_.values() for _, o in pairs})
    items = []
    for s in rows:
        read = signals.seen_by(
            signals.build_read(
                s,
                people[s.contributor_id],
                accounts.get(s.account_id) if s.account_id else None,
                opps.get(s.opportunity_id) if s.opportunity_id else None,
            ),
            principal,
        )
        candidates = [
            CandidateOpportunity(
                opportunity_id=o.id,
                title=o.title,
                status=o.status,
                signal_count=o.signal_count,
                score=sg.score,
                reasons=sg.reasons,
                signals=[
                    SignalText(id=t.id, title=t.title, body=t.body, kind=t.kind, observed_at=t.observed_at)
                    for t in texts.get(o.id, [])
                    if principal.sees(t.contributor_id)  # a bound key reads its own texts only (count: signal_count)
                ],
            )
            for sg, o in open_.get(s.id, [])
        ]
        items.append(DuplicateReviewItem(signal=read, candidates=candidates))
    return items


def _suggestion(session: Session, signal: Signal, opportunity_id: uuid.UUID) -> tuple[DuplicateSuggestion, Opportunity]:
    opp = session.get(Opportunity, opportunity_id)
    if opp is None:
        raise NotFound(f"no opportunity {opportunity_id}", code="opportunity_not_found")
    if opp.account_id != signal.account_id:
        raise Conflict("the opportunity belongs to another account than the signal", code="different_accounts")
    found = next((s for s in SuggestionRepo(session).of_signal(signal.id, None) if s.opportunity_id == opp.id), None)
    if found is None:
        raise Conflict(f"opportunity {opp.id} is not a duplicate candidate of this signal", code="not_a_candidate")
    if found.status != OPEN:
        raise Conflict(f"this candidate was already {found.status}", code="already_decided")
    return found, opp


def _decided(suggestion: DuplicateSuggestion, status: str, actor: str) -> None:
    suggestion.status = status
    suggestion.decided_at = utcnow()
    suggestion.decided_by = actor


def _forget_candidates(signal: Signal, keep: set[str]) -> None:
    """The signal's answer lists only the candidates still waiting."""
    match: dict[str, Any] = dict(signal.match)
    match["duplicate_candidates"] = [
        c for c in match.get("duplicate_candidates", []) if str(c.get("opportunity_id")) in keep
    ]
    signal.match = match


def accept(session: Session, signal: Signal, opportunity_id: uuid.UUID, actor: str, crm: str | None) -> Opportunity:
    """The signal duplicates the candidate: its opportunity is merged into the candidate (both contributors are
    credited there), the signal's other candidates are closed, and the decision is stored as a label."""
    suggestion, target = _suggestion(session, signal, opportunity_id)
    if signal.opportunity_id is None:
        raise Conflict("the signal is not in an opportunity", code="not_placed")
    if signal.opportunity_id == target.id:
        raise Conflict("the signal is already in this opportunity", code="already_merged")
    own = session.get(Opportunity, signal.opportunity_id)
    assert own is not None
    opportunities.merge(session, target, own, actor, crm)
    _decided(suggestion, ACCEPTED, actor)
    for other in SuggestionRepo(session).of_signal(signal.id):
        if other.id != suggestion.id:
            _decided(other, CLOSED, actor)
    labels.record(
        session,
        labels.ACCEPT,
        True,
        actor,
        signal_id=signal.id,
        opportunity_id=target.id,
        other_opportunity_id=own.id,
        account_id=target.account_id,
        score=suggestion.score,
        features=suggestion.features,
    )
    signal.match = {
        **signal.match,
        "outcome": "accepted",
        "reason": f"a person ({actor}) accepted it as a duplicate of {target.id}",
        "duplicate_candidates": [],
    }
    session.add(signal)
    return target


def reject(session: Session, signal: Signal, opportunity_id: uuid.UUID | None, actor: str) -> list[uuid.UUID]:
    """The signal is a different need from the candidate (or, without one, from every open candidate)."""
    if opportunity_id is not None:
        chosen = [_suggestion(session, signal, opportunity_id)[0]]
    else:
        chosen = SuggestionRepo(session).of_signal(signal.id)
        if not chosen:
            raise Conflict("the signal has no open duplicate candidate", code="no_candidates")
    for s in chosen:
        _decided(s, REJECTED, actor)
        labels.record(
            session,
            labels.REJECT,
            False,
            actor,
            signal_id=signal.id,
            opportunity_id=s.opportunity_id,
            account_id=s.account_id,
            score=s.score,
            features=s.features,
        )
    remaining = {str(s.opportunity_id) for s in SuggestionRepo(session).of_signal(signal.id)} - {
        str(s.opportunity_id) for s in chosen
    }
    _forget_candidates(signal, remaining)
    session.add(signal)
    return [s.opportunity_id for s in chosen]
