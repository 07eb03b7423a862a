"""Tables of the accounts feature (SQLModel, storage only; wire schemas live in ``schemas/``)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.ids import uuid7
from app.core.tables import created_column, json_column


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    __table_args__ = (sa.UniqueConstraint("crm", "crm_id"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    crm: str = Field(default="import", max_length=20)
    crm_id: str = Field(max_length=100, index=True)
    name: str = Field(max_length=300)
    legal_name: str | None = Field(default=None, max_length=300)
    aliases: list[str] = json_column([])
    domains: list[str] = json_column([])
    country: str | None = Field(default=None, max_length=2)
    owner: str | None = Field(default=None, max_length=254, description="owner e-mail or name")
    owner_crm_id: str | None = Field(default=None, max_length=100)
    # A grouping the business routes by (e.g. enterprise, public sector); routing rules may match on it.
    segment: str | None = Field(default=None, max_length=100)
    created_at: datetime = created_column()
    updated_at: datetime = created_column()
    # The directory counter's value when this row last changed: processes catch up on rows above theirs.
    version: int = Field(default=0, sa_type=sa.BigInteger(), index=True)


class AccountIndexSnapshot(SQLModel, table=True):
    """The in-memory account index as some process last wrote it, so a new process loads it instead of
    building it (app/accounts/directory.py); one row per index layout (code version), at a directory version."""

    __tablename__ = "account_index_snapshots"

    fingerprint: str = Field(primary_key=True, max_length=64)
    version: int = Field(sa_type=sa.BigInteger())
    data: bytes = Field(sa_type=sa.LargeBinary())
    created_at: datetime = created_column()
