"""app.core.rows.new_row: the hot path's cheap constructor must build the same row SQLModel's would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

import app.tables  # noqa: F401  (every table, for create_all)
from app.accounts.models import Account
from app.core.rows import new_row
from app.opportunities.models import Opportunity


def _opportunity(**values: object) -> Opportunity:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    fields = {"account_id": uuid.uuid4(), "title": "t", "first_seen_at": now, "last_seen_at": now, **values}
    return new_row(Opportunity, **fields)


def test_same_values_and_defaults_as_the_sqlmodel_constructor() -> None:
    fields = {"account_id": uuid.uuid4(), "title": "t", "first_seen_at": datetime(2026, 1, 2, tzinfo=UTC)}
    fields["last_seen_at"] = fields["first_seen_at"]
    cheap, usual = new_row(Opportunity, **fields), Opportunity(**fields)
    for name in Opportunity.model_fields:
        if name not in ("id", "created_at", "updated_at"):  # fresh per row by design
            assert getattr(cheap, name) == getattr(usual, name), name
    assert isinstance(cheap.id, uuid.UUID) and cheap.id != usual.id


def test_mutable_defaults_are_not_shared_between_rows() -> None:
    first, second = _opportunity(), _opportunity()
    first.kinds.append("renewal_risk")
    assert second.kinds == []


def test_inserted_and_later_changes_are_saved() -> None:
    engine = sa.create_engine("sqlite://")
    SQLModel.metadata.create_all(engine)
    account = Account(name="Acme", crm_id="A-1")
    with Session(engine) as session:
        session.add(account)
        session.flush()
        opp = _opportunity(account_id=account.id, signal_count=1)
        session.add(opp)
        session.flush()
        opp.signal_count += 1  # a change after the INSERT goes through the instrumented attribute: an UPDATE
        session.commit()
        opp_id = opp.id
    with Session(engine) as session:
        stored = session.get(Opportunity, opp_id)
        assert stored is not None
        assert (stored.signal_count, stored.title, stored.status) == (2, "t", "open")
