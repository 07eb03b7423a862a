"""Opportunity milestones: first times that later updates overwrite on the opportunity row."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from app.core.dbutil import insert_for
from app.core.timeutil import utcnow
from app.reports.models import OpportunityMilestone


def record_milestone(
    session: Session,
    opportunity_id: uuid.UUID,
    *,
    first_synced_at: datetime | None = None,
    first_stage_changed_at: datetime | None = None,
) -> None:
    """Keep the earliest of each given time (an upsert; concurrent callers cannot lose one another's value)."""
    table = OpportunityMilestone.__table__  # type: ignore[attr-defined]
    now = utcnow()
    stmt = insert_for(session, table).values(
        opportunity_id=opportunity_id,
        first_synced_at=first_synced_at,
        first_stage_changed_at=first_stage_changed_at,
        updated_at=now,
    )
    updates: dict[str, Any] = {"updated_at": now}
    for name, value in (("first_synced_at", first_synced_at), ("first_stage_changed_at", first_stage_changed_at)):
        if value is not None:
            current = table.c[name]
            updates[name] = sa.case(
                (current.is_(None), stmt.excluded[name]),
                (current > stmt.excluded[name], stmt.excluded[name]),
                else_=current,
            )
    session.execute(stmt.on_conflict_do_update(index_elements=["opportunity_id"], set_=updates))


def record_first_synced(session: Session, opportunity_ids: list[uuid.UUID], at: datetime) -> None:
    """``record_milestone(first_synced_at=at)`` for many opportunities in one statement."""
    if not opportunity_ids:
        return
    table = OpportunityMilestone.__table__  # type: ignore[attr-defined]
    stmt = insert_for(session, table)
    current = table.c.first_synced_at
    stmt = stmt.on_conflict_do_update(
        index_elements=["opportunity_id"],
        set_={
            "first_synced_at": sa.case(
                (current.is_(None), stmt.excluded.first_synced_at),
                (current > stmt.excluded.first_synced_at, stmt.excluded.first_synced_at),
                else_=current,
            ),
            "updated_at": stmt.excluded.updated_at,
        },
    )
    rows = [
        {"opportunity_id": i, "first_synced_at": at, "first_stage_changed_at": None, "updated_at": at}
        for i in dict.fromkeys(opportunity_ids)
    ]
    session.execute(stmt, rows)
