"""Queries of the opportunities slice."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.core.dbutil import insert_for
from app.core.ids import uuid7
from app.core.timeutil import utcnow
from app.opportunities.models import Credit, Opportunity
from app.sync.models import SyncJob


class OpportunityRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def page(
        self,
        *,
        account_id: uuid.UUID | None,
        credited: list[uuid.UUID],
        status: str | None,
        synced: bool | None,
        seen_from: datetime | None,
        seen_to: datetime | None,
        include_merged: bool,
        before: uuid.UUID | None,
        limit: int,
    ) -> list[tuple[Opportunity, Account]]:
        """Opportunities with their accounts, newest first; ``credited``: each of these people is credited."""
        stmt = select(Opportunity, Account).join(Account, col(Account.id) == col(Opportunity.account_id))
        if account_id:
            stmt = stmt.where(Opportunity.account_id == account_id)
        for person in credited:
            stmt = stmt.where(
                col(Opportunity.id).in_(select(Credit.opportunity_id).where(Credit.contributor_id == person))
            )
        if status:
            stmt = stmt.where(Opportunity.status == status)
        if synced is not None:
            stmt = stmt.where(col(Opportunity.crm_id).is_not(None) if synced else col(Opportunity.crm_id).is_(None))
        if seen_from:
            stmt = stmt.where(Opportunity.last_seen_at >= seen_from)
        if seen_to:
            stmt = stmt.where(Opportunity.first_seen_at < seen_to)
        if not include_merged:
            stmt = stmt.where(col(Opportunity.merged_into_id).is_(None))
        if before:
            stmt = stmt.where(col(Opportunity.id) < before)
        return list(self.session.exec(stmt.order_by(col(Opportunity.id).desc()).limit(limit)))

    def lock_account(self, account_id: uuid.UUID) -> None:
        """Serialise clustering per account, so two concurrent signals cannot both open the same opportunity."""
        self.session.exec(select(Account.id).where(Account.id == account_id).with_for_update())

    def by_ref(self, ref: str) -> Opportunity | None:
        """An opportunity named by our id or its CRM id, following merges to the survivor."""
        opp: Opportunity | None = None
        with contextlib.suppress(ValueError):
            opp = self.session.get(Opportunity, uuid.UUID(ref))
        if opp is None:
            opp = self.session.exec(select(Opportunity).where(Opportunity.crm_id == ref)).first()
        seen = 0
        while opp is not None and opp.merged_into_id is not None and seen < 20:
            opp = self.session.get(Opportunity, opp.merged_into_id)
            seen += 1
        return opp

    def credits_with_people(self, opportunity_id: uuid.UUID) -> list[tuple[Credit, Contributor]]:
        rows = self.session.exec(
            select(Credit, Contributor)
            .join(Contributor, col(Contributor.id) == col(Credit.contributor_id))
            .where(Credit.opportunity_id == opportunity_id)
            .order_by(col(Credit.first_observed_at))
        )
        return [(c, p) for c, p in rows]

    def mark_dirty(self, opps: list[Opportunity], crm: str) -> None:
        """Outbox: record, in the caller's transaction and one statement, that the CRM must catch up."""
        if not opps:
            return
        now = utcnow()
        table = SyncJob.__table__  # type: ignore[attr-defined]
        rows = [
            {
                "id": uuid7(),
                "opportunity_id": o.id,
                "crm": crm,
                "state": "pending",
                "wanted_version": o.version,
                "synced_version": 0,
                "attempts": 0,
                "next_attempt_at": now,
                "dirty_since": now,
                "updated_at": now,
            }
            for o in sorted(opps, key=lambda o: o.id)  # one lock order for concurrent writers
        ]
        # Parameters go separately from the statement, so its compiled form is cached.
        stmt = insert_for(self.session, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["opportunity_id", "crm"],
            set_={
                "wanted_version": stmt.excluded.wanted_version,
                # A dead job stays dead until a human retries it; everything else becomes due again.
                "state": sa.case(
                    (table.c.state == "dead", "dead"), (table.c.state == "retrying", "retrying"), else_="pending"
                ),
                "dirty_since": sa.func.coalesce(table.c.dirty_since, stmt.excluded.dirty_since),
                "updated_at": stmt.excluded.updated_at,
            },
        )
        self.session.execute(stmt, rows)

    def settle_sync(self, opp: Opportunity) -> None:
        """Nothing more to send for ``opp`` (merged away): its outbox job, if any, is done at its version."""
        self.session.execute(
            sa.update(SyncJob)
            .where(col(SyncJob.opportunity_id) == opp.id, col(SyncJob.state) != "done")
            .values(state="done", synced_version=SyncJob.wanted_version, updated_at=utcnow())
        )
