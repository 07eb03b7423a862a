"""Routing queries: rules in the order they are tried, routes, and the routes that fell due."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.timeutil import UTCDateTime
from app.routing.models import OpportunityRoute, RoutingRule
from app.routing.reaction import first_reaction_sql


class RoutingRepo:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def rules(self, *, active_only: bool = False) -> list[RoutingRule]:
        """Rules in the order they are tried: position, then creation (ids are time-ordered)."""
        stmt = select(RoutingRule).order_by(col(RoutingRule.position), col(RoutingRule.id))
        if active_only:
            stmt = stmt.where(col(RoutingRule.active).is_(True))
        return list(self.session.exec(stmt))

    def rule(self, rule_id: uuid.UUID) -> RoutingRule | None:
        return self.session.get(RoutingRule, rule_id)

    def add_routes(self, routes: Sequence[OpportunityRoute]) -> None:
        if routes:
            self.session.execute(
                sa.insert(OpportunityRoute.__table__),  # type: ignore[attr-defined]
                [r.model_dump() for r in routes],
            )

    def route(self, opportunity_id: uuid.UUID) -> tuple[OpportunityRoute, datetime | None] | None:
        """The opportunity's route and its first reaction (now, not as last swept)."""
        reaction = first_reaction_sql(self.dialect)
        stmt = (
            sa.text(
                f"SELECT {reaction} AS reacted FROM opportunities o "
                "LEFT JOIN opportunity_milestones m ON m.opportunity_id = o.id WHERE o.id = :id"
            )
            .bindparams(sa.bindparam("id", type_=sa.Uuid()))
            .columns(sa.column("reacted", UTCDateTime()))
        )
        route = self.session.get(OpportunityRoute, opportunity_id)
        if route is None:
            return None
        return route, self.session.execute(stmt, {"id": opportunity_id}).scalar_one_or_none()

    def due(self, now: datetime, limit: int) -> list[tuple[uuid.UUID, datetime | None]]:
        """Routes due by ``now`` that the sweep has not settled, with their first reaction (None: nobody reacted),
        locked; routes another sweep holds are skipped (PostgreSQL), so each is settled by one sweep only."""
        reaction = first_reaction_sql(self.dialect)
        lock = " FOR UPDATE OF r SKIP LOCKED" if self.dialect == "postgresql" else ""
        stmt = (
            sa.text(
                f"SELECT r.opportunity_id AS id, {reaction} AS reacted FROM opportunity_routes r "
                "JOIN opportunities o ON o.id = r.opportunity_id "
                "LEFT JOIN opportunity_milestones m ON m.opportunity_id = o.id "
                "WHERE r.escalated_at IS NULL AND r.reacted_at IS NULL AND r.due_at <= :now "
                f"ORDER BY r.due_at LIMIT :limit{lock}"
            )
            .bindparams(sa.bindparam("now", type_=UTCDateTime()))
            .columns(sa.column("id", sa.Uuid()), sa.column("reacted", UTCDateTime()))
        )
        return [(row.id, row.reacted) for row in self.session.execute(stmt, {"now": now, "limit": limit})]

    def routes(self, ids: Sequence[uuid.UUID]) -> list[OpportunityRoute]:
        if not ids:
            return []
        return list(self.session.exec(select(OpportunityRoute).where(col(OpportunityRoute.opportunity_id).in_(ids))))

    def settle(self, values: Sequence[dict[str, Any]], column: str) -> None:
        """Set ``column`` (reacted_at or escalated_at) to each row's ``at``."""
        if not values:
            return
        table = OpportunityRoute.__table__  # type: ignore[attr-defined]
        self.session.execute(
            sa.update(table).where(table.c.opportunity_id == sa.bindparam("oid")).values({column: sa.bindparam("at")}),
            list(values),
        )
