"""Queries of the contributors slice."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlmodel import Session, col, select

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.opportunities.models import Credit, Opportunity
from app.signals.models import Signal


class ContributorRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def page(
        self,
        *,
        function: str | None,
        team: str | None,
        only: uuid.UUID | None,
        before: uuid.UUID | None,
        limit: int,
    ) -> list[Contributor]:
        """Contributors not erased, newest first; ``only`` narrows to one person (a key bound to them)."""
        stmt = select(Contributor).where(col(Contributor.erased_at).is_(None))
        if function:
            stmt = stmt.where(Contributor.function == function)
        if team:
            stmt = stmt.where(Contributor.team == team)
        if only is not None:
            stmt = stmt.where(Contributor.id == only)
        if before:
            stmt = stmt.where(col(Contributor.id) < before)
        return list(self.session.exec(stmt.order_by(col(Contributor.id).desc()).limit(limit)))


class FeedRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def signals(self, contributor_id: uuid.UUID, *, before: uuid.UUID | None, limit: int) -> list[Signal]:
        stmt = select(Signal).where(Signal.contributor_id == contributor_id)
        if before:
            stmt = stmt.where(col(Signal.id) < before)
        return list(self.session.exec(stmt.order_by(col(Signal.id).desc()).limit(limit)))

    def survivors(self, opportunity_ids: set[uuid.UUID]) -> dict[uuid.UUID, Opportunity]:
        """Each opportunity id mapped to the opportunity it lives on as, following merges."""
        out: dict[uuid.UUID, Opportunity] = {}
        pending = {i: i for i in opportunity_ids}
        for _ in range(20):
            if not pending:
                break
            rows = {
                o.id: o
                for o in self.session.exec(select(Opportunity).where(col(Opportunity.id).in_(set(pending.values()))))
            }
            nxt = {}
            for origin, current in pending.items():
                opp = rows.get(current)
                if opp is None:
                    continue
                if opp.merged_into_id is None:
                    out[origin] = opp
                else:
                    nxt[origin] = opp.merged_into_id
            pending = nxt
        return out

    def credits(self, opportunity_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[tuple[Credit, Contributor]]]:
        out: dict[uuid.UUID, list[tuple[Credit, Contributor]]] = defaultdict(list)
        if not opportunity_ids:
            return out
        rows = self.session.exec(
            select(Credit, Contributor)
            .join(Contributor, col(Contributor.id) == col(Credit.contributor_id))
            .where(col(Credit.opportunity_id).in_(opportunity_ids))
            .order_by(col(Credit.first_observed_at))
        )
        for credit, person in rows:
            out[credit.opportunity_id].append((credit, person))
        return out

    def accounts(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, Account]:
        if not ids:
            return {}
        return {a.id: a for a in self.session.exec(select(Account).where(col(Account.id).in_(ids)))}
