"""Queries of the signals slice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.opportunities.models import Opportunity
from app.signals.models import Signal


class SignalRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_id(self, signal_id: uuid.UUID) -> Signal | None:
        return self.session.get(Signal, signal_id)

    def list(
        self,
        *,
        contributor_id: uuid.UUID | None,
        account_id: uuid.UUID | None,
        kind: str | None,
        status: str | None,
        observed_from: datetime | None,
        observed_to: datetime | None,
        opportunity_id: uuid.UUID | None = None,
        before: uuid.UUID | None,
        limit: int,
    ) -> list[Signal]:
        stmt = select(Signal)
        if contributor_id:
            stmt = stmt.where(Signal.contributor_id == contributor_id)
        if account_id:
            stmt = stmt.where(Signal.account_id == account_id)
        if opportunity_id:
            stmt = stmt.where(Signal.opportunity_id == opportunity_id)
        if kind:
            stmt = stmt.where(Signal.kind == kind)
        if status:
            stmt = stmt.where(Signal.status == status)
        if observed_from:
            stmt = stmt.where(Signal.observed_at >= observed_from)
        if observed_to:
            stmt = stmt.where(Signal.observed_at < observed_to)
        if before:
            stmt = stmt.where(col(Signal.id) < before)
        return list(self.session.exec(stmt.order_by(col(Signal.id).desc()).limit(limit)))

    def of_opportunity(self, opportunity_id: uuid.UUID) -> Sequence[Signal]:
        """Every signal of one opportunity, oldest first: its detail shows them all, so there is no page size."""
        stmt = select(Signal).where(Signal.opportunity_id == opportunity_id)
        return list(self.session.exec(stmt.order_by(col(Signal.observed_at), col(Signal.id))))

    def related(
        self, signals: Sequence[Signal]
    ) -> tuple[dict[uuid.UUID, Contributor], dict[uuid.UUID, Account], dict[uuid.UUID, Opportunity]]:
        """Contributors, accounts and opportunities of a page of signals, one query each."""

        def load(model: Any, ids: set[uuid.UUID]) -> dict[uuid.UUID, Any]:
            if not ids:
                return {}
            return {row.id: row for row in self.session.exec(select(model).where(col(model.id).in_(ids)))}

        return (
            load(Contributor, {s.contributor_id for s in signals}),
            load(Account, {s.account_id for s in signals if s.account_id}),
            load(Opportunity, {s.opportunity_id for s in signals if s.opportunity_id}),
        )
