"""Tables of the contributors feature (SQLModel, storage only; wire schemas live in ``schemas/``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.ids import uuid7
from app.core.tables import created_column, timestamp_column


class Contributor(SQLModel, table=True):
    __tablename__ = "contributors"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    # Null once erased: the row stays so that anonymous counts keep adding up.
    email: str | None = Field(default=None, max_length=254, unique=True)
    name: str | None = Field(default=None, max_length=200)
    function: str = Field(default="other", max_length=40, index=True)
    team: str | None = Field(default=None, max_length=100, index=True)
    created_at: datetime = created_column()
    first_signal_at: datetime | None = timestamp_column(nullable=True)
    last_signal_at: datetime | None = timestamp_column(nullable=True)
    signal_count: int = 0
    erased_at: datetime | None = timestamp_column(nullable=True)
