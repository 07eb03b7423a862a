"""Contributor lookups and the contributor's feed. Never commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, select

from app.contributors.models import Contributor
from app.contributors.repo import FeedRepo
from app.core.auth import Principal
from app.core.dbutil import insert_for
from app.core.errors import NotFound, invalid
from app.core.ids import uuid7
from app.core.timeutil import utcnow
from schemas.contributors import Colleague, FeedAccount, FeedItem, FeedOpportunity
from schemas.signals import ContributorUpdate


def resolve_contributor(session: Session, ref: str) -> Contributor:
    """A contributor by id or e-mail (case-insensitive); 404 if unknown."""
    contributor: Contributor | None
    try:
        contributor = session.get(Contributor, uuid.UUID(ref))
    except ValueError:
        contributor = session.exec(select(Contributor).where(Contributor.email == ref.strip().lower())).first()
    if contributor is None:
        raise NotFound("no such contributor")
    return contributor


def contributor_for_sign_in(session: Session, email: str, name: str | None) -> Contributor:
    """The contributor a signed-in person is: found by e-mail, created on first sign-in (function 'other' until
    a signal of theirs says more). Safe under concurrent first sign-ins of one person."""
    email = email.strip().lower()
    table = Contributor.__table__  # type: ignore[attr-defined]
    row = {"id": uuid7(), "email": email, "name": name, "function": "other", "created_at": utcnow(), "signal_count": 0}
    session.execute(insert_for(session, table).on_conflict_do_nothing(index_elements=["email"]), [row])
    return session.exec(select(Contributor).where(Contributor.email == email)).one()


def readable_contributor(session: Session, ref: str, principal: Principal) -> Contributor:
    """The contributor named by ``ref``, if ``principal`` may read their feed.

    A key bound to a contributor reads only that person's feed: any other is answered 404, never 403, so a key
    cannot learn whether someone else exists.
    """
    contributor = resolve_contributor(session, ref)
    if not principal.sees(contributor.id):
        raise NotFound("no such contributor")
    return contributor


def update(session: Session, contributor: Contributor, data: ContributorUpdate, functions: frozenset[str]) -> None:
    """Set the fields ``data`` names (null clears name or team); the function must be one of ``functions``."""
    if data.function is not None and data.function not in functions:
        raise invalid("function", f"must be one of: {', '.join(sorted(functions))}", "unknown_function")
    if "function" in data.model_fields_set and data.function is None:
        raise invalid("function", "cannot be cleared; choose one (or 'other')", "required")
    if contributor.email is None:
        raise NotFound("no such contributor")  # erased: nothing personal may be written back
    for name in data.model_fields_set:
        setattr(contributor, name, getattr(data, name))
    session.add(contributor)


def feed(session: Session, contributor: Contributor, *, before: uuid.UUID | None, limit: int) -> list[FeedItem]:
    """A page of the contributor's signals, newest first, each with what became of it."""
    repo = FeedRepo(session)
    signals = repo.signals(contributor.id, before=before, limit=limit)
    opps = repo.survivors({s.opportunity_id for s in signals if s.opportunity_id})
    credits = repo.credits({o.id for o in opps.values()})
    accounts = repo.accounts({s.account_id for s in signals if s.account_id})
    items = []
    for s in signals:
        opp = opps.get(s.opportunity_id) if s.opportunity_id else None
        people = credits.get(opp.id, []) if opp else []
        mine = next((c.role for c, p in people if p.id == contributor.id), None)
        account = accounts.get(s.account_id) if s.account_id else None
        source: dict[str, Any] = {"system": s.source_system}
        if s.source_reference:
            source["reference"] = s.source_reference
        if s.source_url:
            source["url"] = s.source_url
        items.append(
            FeedItem(
                signal_id=s.id,
                kind=s.kind,
                title=s.title,
                status=s.status,
                observed_at=s.observed_at,
                source=source,
                account=FeedAccount(id=account.id, name=account.name) if account else None,
                opportunity=FeedOpportunity(
                    id=opp.id,
                    title=opp.title,
                    status=opp.status,
                    stage=opp.stage,
                    amount=opp.amount,
                    currency=opp.currency,
                    close_date=opp.close_date,
                    note=opp.note,
                    crm_id=opp.crm_id,
                    crm_url=opp.crm_url,
                    stage_changed_at=opp.stage_changed_at,
                    closed_at=opp.closed_at,
                    signal_count=opp.signal_count,
                    my_role=mine,
                )
                if opp
                else None,
                colleagues=[
                    Colleague(id=p.id, name=p.name, function=p.function, team=p.team, role=c.role)
                    for c, p in people
                    if p.id != contributor.id
                ],
            )
        )
    return items
