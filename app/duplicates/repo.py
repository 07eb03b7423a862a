"""Queries of duplicate review."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlmodel import Session, col, select

from app.duplicates.models import OPEN, DuplicateSuggestion
from app.opportunities.models import Opportunity
from app.signals.models import Signal

SIDE_BY_SIDE = 3  # signals of each candidate shown next to the new one


class SuggestionRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def open_signal_ids(
        self, *, contributor_id: uuid.UUID | None, before: uuid.UUID | None, limit: int
    ) -> list[uuid.UUID]:
        """Signals with an open suggestion whose candidate is still open and not merged away, newest first."""
        stmt = (
            select(DuplicateSuggestion.signal_id)
            .join(Opportunity, col(Opportunity.id) == DuplicateSuggestion.opportunity_id)
            .where(
                DuplicateSuggestion.status == OPEN,
                Opportunity.status == "open",
                col(Opportunity.merged_into_id).is_(None),
            )
            .distinct()
        )
        if contributor_id is not None:
            stmt = stmt.join(Signal, col(Signal.id) == DuplicateSuggestion.signal_id).where(
                Signal.contributor_id == contributor_id
            )
        if before is not None:
            stmt = stmt.where(col(DuplicateSuggestion.signal_id) < before)
        return list(self.session.exec(stmt.order_by(col(DuplicateSuggestion.signal_id).desc()).limit(limit)))

    def signals(self, ids: list[uuid.UUID]) -> list[Signal]:
        return list(self.session.exec(select(Signal).where(col(Signal.id).in_(ids)).order_by(col(Signal.id).desc())))

    def open_for(self, signal_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[tuple[DuplicateSuggestion, Opportunity]]]:
        out: dict[uuid.UUID, list[tuple[DuplicateSuggestion, Opportunity]]] = defaultdict(list)
        if not signal_ids:
            return out
        rows = self.session.exec(
            select(DuplicateSuggestion, Opportunity)
            .join(Opportunity, col(Opportunity.id) == DuplicateSuggestion.opportunity_id)
            .where(
                col(DuplicateSuggestion.signal_id).in_(signal_ids),
                DuplicateSuggestion.status == OPEN,
                Opportunity.status == "open",
                col(Opportunity.merged_into_id).is_(None),
            )
            .order_by(col(DuplicateSuggestion.rank))
        )
        for suggestion, opp in rows:
            out[suggestion.signal_id].append((suggestion, opp))
        return out

    def of_signal(self, signal_id: uuid.UUID, status: str | None = OPEN) -> list[DuplicateSuggestion]:
        stmt = select(DuplicateSuggestion).where(DuplicateSuggestion.signal_id == signal_id)
        if status is not None:
            stmt = stmt.where(DuplicateSuggestion.status == status)
        return list(self.session.exec(stmt.order_by(col(DuplicateSuggestion.rank))))

    def recent_signals(self, opportunity_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[Signal]]:
        """Up to SIDE_BY_SIDE most recent signals of each opportunity."""
        out: dict[uuid.UUID, list[Signal]] = defaultdict(list)
        if not opportunity_ids:
            return out
        rows = self.session.exec(
            select(Signal)
            .where(col(Signal.opportunity_id).in_(opportunity_ids))
            .order_by(col(Signal.observed_at).desc())
        )
        for s in rows:
            assert s.opportunity_id is not None
            if len(out[s.opportunity_id]) < SIDE_BY_SIDE:
                out[s.opportunity_id].append(s)
        return out
