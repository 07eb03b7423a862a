"""Storing the duplicate candidates a signal was given, for the review queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session

from app.accounts.models import Account
from app.core.ids import uuid7
from app.core.timeutil import utcnow
from app.dedup.records import Decision
from app.duplicates.models import OPEN, DuplicateSuggestion
from app.signals.models import Signal

_TABLE = DuplicateSuggestion.__table__  # type: ignore[attr-defined]


def suggest(session: Session, decided: Sequence[tuple[Signal, Account, Decision]]) -> None:
    """One open suggestion per (signal, candidate) of each decision that has candidates.

    Written as rows in one statement, not as model objects: a batch of 500 signals has thousands of candidates,
    and building an object for each cost more than deciding them. Nothing in the transaction reads them back."""
    now = utcnow()
    rows = [
        {
            "id": uuid7(),
            "signal_id": signal.id,
            "opportunity_id": uuid.UUID(c.opportunity_id),
            "account_id": account.id,
            "score": c.score,
            "rank": rank,
            "reasons": list(c.reasons),
            "features": [round(v, 6) for v in c.features],
            "status": OPEN,
            "created_at": now,
            "decided_at": None,
            "decided_by": None,
        }
        for signal, account, decision in decided
        for rank, c in enumerate(decision.candidates, 1)
    ]
    if rows:
        session.flush()  # the signals they name, if still pending
        session.execute(sa.insert(_TABLE), rows)
