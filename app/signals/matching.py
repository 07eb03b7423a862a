"""Glue between ingest and the attribution/clustering engines (placeholder: exact CRM id only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, select

from app.models import Account, Opportunity, Signal
from schemas.signals import CustomerHint


def attribute(session: Session, hint: CustomerHint, text: str) -> tuple[Account | None, dict[str, Any]]:
    if hint.crm_account_id:
        account = session.exec(select(Account).where(Account.crm_id == hint.crm_account_id)).first()
        if account:
            return account, {
                "method": "crm_id",
                "confidence": 1.0,
                "evidence": {"crm_id": account.crm_id},
                "candidates": [],
            }
    return None, {"method": "none", "confidence": 0.0, "evidence": {}, "candidates": []}


def cluster(
    session: Session, signal: Signal, account: Account, window: timedelta
) -> tuple[Opportunity | None, dict[str, Any]]:
    return None, {"reason": "new opportunity"}
