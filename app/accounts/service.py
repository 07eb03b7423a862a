"""Account directory rules."""

from __future__ import annotations

import contextlib
import uuid

from sqlmodel import Session, select

from app.errors import NotFound
from app.models import Account


def resolve_account(session: Session, ref: str) -> Account:
    """An account by our id or its CRM id; 404 if unknown."""
    account: Account | None = None
    with contextlib.suppress(ValueError):
        account = session.get(Account, uuid.UUID(ref))
    if account is None:
        account = session.exec(select(Account).where(Account.crm_id == ref)).first()
    if account is None:
        raise NotFound("no such account")
    return account
