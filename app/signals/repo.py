"""Queries of the signals slice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.dbutil import insert_for
from app.ids import uuid7
from app.models import Account, Contributor, Opportunity, Signal
from app.timeutil import utcnow


class SignalRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_id(self, signal_id: uuid.UUID) -> Signal | None:
        return self.session.get(Signal, signal_id)

    def by_source_ref(self, system: str, reference: str) -> Signal | None:
        return self.session.exec(
            select(Signal).where(Signal.source_system == system, Signal.source_reference == reference)
        ).first()

    def upsert_contributor(
        self, email: str, name: str | None, function: str | None, team: str | None, observed_at: datetime
    ) -> Contributor:
        """Insert or refresh the contributor; a later post may add a name, function or team, never erase them."""
        table = Contributor.__table__  # type: ignore[attr-defined]
        stmt = insert_for(self.session, table).values(
            id=uuid7(),
            email=email,
            name=name,
            function=function or "other",
            team=team,
            created_at=utcnow(),
            first_signal_at=observed_at,
            last_signal_at=observed_at,
            signal_count=1,
        )
        updates: dict[str, Any] = {
            "signal_count": table.c.signal_count + 1,
            "last_signal_at": sa.func.coalesce(
                sa.case(
                    (table.c.last_signal_at > stmt.excluded.last_signal_at, table.c.last_signal_at),
                    else_=stmt.excluded.last_signal_at,
                ),
                stmt.excluded.last_signal_at,
            ),
            "first_signal_at": sa.case(
                (table.c.first_signal_at.is_(None), stmt.excluded.first_signal_at),
                (table.c.first_signal_at < stmt.excluded.first_signal_at, table.c.first_signal_at),
                else_=stmt.excluded.first_signal_at,
            ),
        }
        if name:
            updates["name"] = stmt.excluded.name
        if function:
            updates["function"] = stmt.excluded.function
        if team:
            updates["team"] = stmt.excluded.team
        stmt = stmt.on_conflict_do_update(index_elements=["email"], set_=updates).returning(table.c.id)
        contributor_id = self.session.execute(stmt).scalar_one()
        contributor = self.session.get(Contributor, contributor_id, populate_existing=True)
        assert contributor is not None
        return contributor

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
