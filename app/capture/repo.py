"""Capture's queries: tasks (store once, claim due ones, settle) and origins."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.capture.models import CaptureOrigin, CaptureTask
from app.core.dbutil import insert_for
from app.core.ids import uuid7
from app.core.timeutil import utcnow
from app.signals.models import Signal


class CaptureRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_tasks(self, rows: Sequence[Mapping[str, Any]]) -> list[uuid.UUID]:
        """Insert tasks (source, kind, dedup_key, payload); ones whose (source, dedup_key) exists are skipped.
        Returns the ids of the rows inserted. One statement, whatever the number of rows."""
        if not rows:
            return []
        now = utcnow()
        values = [
            {
                "id": uuid7(),
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                **row,
            }
            for row in rows
        ]
        table = CaptureTask.__table__  # type: ignore[attr-defined]
        stmt = insert_for(self.session, table).on_conflict_do_nothing(index_elements=["source", "dedup_key"])
        inserted = self.session.execute(stmt.returning(table.c.id), values).scalars().all()
        return list(inserted)

    def claim(self, now: datetime, lease_until: datetime, limit: int, task_id: uuid.UUID | None) -> list[CaptureTask]:
        """Due pending tasks (or the one ``task_id`` if due), leased until ``lease_until`` by this caller."""
        stmt = select(CaptureTask).where(col(CaptureTask.state) == "pending", col(CaptureTask.next_attempt_at) <= now)
        if task_id is not None:
            stmt = stmt.where(col(CaptureTask.id) == task_id)
        stmt = stmt.order_by(col(CaptureTask.next_attempt_at)).limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        tasks = list(self.session.exec(stmt))
        for task in tasks:
            task.next_attempt_at = lease_until
            self.session.add(task)
        return tasks

    def add_origin(
        self, signal_id: uuid.UUID, source: str, follows: Iterable[str], reply_to: Mapping[str, Any]
    ) -> None:
        """Remember where a signal came from; a repeat of the same signal keeps the first origin."""
        table = CaptureOrigin.__table__  # type: ignore[attr-defined]
        stmt = insert_for(self.session, table).on_conflict_do_nothing(index_elements=["signal_id"])
        self.session.execute(
            stmt,
            [
                {
                    "signal_id": signal_id,
                    "source": source,
                    "follows": sorted(follows),
                    "reply_to": dict(reply_to),
                    "created_at": utcnow(),
                }
            ],
        )

    def origins_for(
        self, signal_ids: set[uuid.UUID], opportunity_ids: set[uuid.UUID]
    ) -> list[tuple[CaptureOrigin, uuid.UUID | None]]:
        """Origins of the given signals and of every signal in the given opportunities, with each signal's
        opportunity id. One query."""
        if not signal_ids and not opportunity_ids:
            return []
        conditions = []
        if signal_ids:
            conditions.append(col(CaptureOrigin.signal_id).in_(signal_ids))
        if opportunity_ids:
            conditions.append(col(Signal.opportunity_id).in_(opportunity_ids))
        stmt = (
            select(CaptureOrigin, Signal.opportunity_id)
            .join(Signal, col(Signal.id) == col(CaptureOrigin.signal_id))
            .where(sa.or_(*conditions))
        )
        return [(origin, opp_id) for origin, opp_id in self.session.exec(stmt)]

    def origin(self, signal_id: uuid.UUID) -> CaptureOrigin | None:
        return self.session.get(CaptureOrigin, signal_id)

    def count_tasks(self, source: str | None = None) -> int:
        stmt = select(sa.func.count()).select_from(CaptureTask)
        if source is not None:
            stmt = stmt.where(col(CaptureTask.source) == source)
        return int(self.session.exec(stmt).one())
