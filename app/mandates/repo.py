"""Mandate queries."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from app.mandates.models import Mandate


class MandateRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> list[Mandate]:
        return list(self.session.exec(select(Mandate).order_by(Mandate.function, Mandate.kind)))

    def replace(self, rows: list[Mandate]) -> None:
        self.session.execute(sa.delete(Mandate.__table__))  # type: ignore[attr-defined]
        self.session.add_all(rows)
        self.session.flush()
