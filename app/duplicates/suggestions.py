"""Storing the duplicate candidates a signal was given, for the review queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import Session

from app.accounts.models import Account
from app.dedup.records import Decision
from app.duplicates.models import DuplicateSuggestion
from app.signals.models import Signal


def suggest(session: Session, decided: Sequence[tuple[Signal, Account, Decision]]) -> None:
    """One open suggestion per (signal, candidate) of each decision that has candidates."""
    rows = [
        DuplicateSuggestion(
            signal_id=signal.id,
            opportunity_id=uuid.UUID(c.opportunity_id),
            account_id=account.id,
            score=c.score,
            rank=rank,
            reasons=list(c.reasons),
            features=[round(v, 6) for v in c.features],
        )
        for signal, account, decision in decided
        for rank, c in enumerate(decision.candidates, 1)
    ]
    if rows:
        session.add_all(rows)
