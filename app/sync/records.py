"""CRM-neutral opportunity records built from the database, a batch at a time (a fixed number of queries)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.opportunities.models import Credit, Opportunity
from app.opportunities.service import ORIGINATOR
from app.signals.models import Signal
from schemas.crm import ContributorCredit, OpportunityRecord

MAX_SOURCE_LINKS = 20


def build_records(
    session: Session, opportunity_ids: Sequence[uuid.UUID], crm: str
) -> dict[uuid.UUID, OpportunityRecord]:
    """One record per opportunity that still exists, at its current version; keyed by opportunity id.

    The account's CRM id and owner are used only when the account came from this CRM. ``is_new`` is true
    until a CRM id is stored locally: adapters send the seller's fields only then (guarantee 5).
    """
    if not opportunity_ids:
        return {}
    ids = list(dict.fromkeys(opportunity_ids))
    opps = {o.id: o for o in session.exec(select(Opportunity).where(col(Opportunity.id).in_(ids)))}
    account_ids = {o.account_id for o in opps.values()}
    accounts = {a.id: a for a in session.exec(select(Account).where(col(Account.id).in_(account_ids)))}
    credits: dict[uuid.UUID, list[tuple[Credit, Contributor]]] = defaultdict(list)
    rows = session.exec(
        select(Credit, Contributor)
        .join(Contributor, col(Contributor.id) == col(Credit.contributor_id))
        .where(col(Credit.opportunity_id).in_(ids))
        .order_by(col(Credit.first_observed_at), col(Credit.id))
    )
    for credit, person in rows:
        credits[credit.opportunity_id].append((credit, person))
    links: dict[uuid.UUID, list[str]] = defaultdict(list)
    for opp_id, url in session.exec(
        select(Signal.opportunity_id, Signal.source_url)
        .where(col(Signal.opportunity_id).in_(ids), col(Signal.source_url).is_not(None))
        .order_by(col(Signal.observed_at))
    ):
        if opp_id is not None and url and url not in links[opp_id] and len(links[opp_id]) < MAX_SOURCE_LINKS:
            links[opp_id].append(url)
    out: dict[uuid.UUID, OpportunityRecord] = {}
    for opp_id in ids:
        opp = opps.get(opp_id)
        if opp is None:
            continue
        account = accounts.get(opp.account_id)
        out[opp_id] = to_record(
            opp, account if account and account.crm == crm else None, credits[opp_id], links[opp_id]
        )
    return out


def _credit(credit: Credit, person: Contributor) -> ContributorCredit:
    # An erased contributor keeps their place (counts add up) but not their address.
    return ContributorCredit(email=person.email or "", function=person.function, role=credit.role)


def to_record(
    opp: Opportunity,
    account: Account | None,
    credits: Sequence[tuple[Credit, Contributor]],
    source_links: Sequence[str],
) -> OpportunityRecord:
    people = [_credit(c, p) for c, p in credits]
    # The stored role says who originated it (assign_roles); an opportunity without credits has nobody.
    nobody = ContributorCredit(email="", function="other", role=ORIGINATOR)
    originator = next((x for x in people if x.role == ORIGINATOR), nobody)
    return OpportunityRecord(
        opportunity_id=str(opp.id),
        version=opp.version,
        name=opp.title,
        account_crm_id=account.crm_id if account else None,
        owner_crm_id=account.owner_crm_id if account else None,
        account_owner_crm_id=account.owner_crm_id if account else None,
        amount=opp.estimated_amount,
        currency=opp.estimated_currency,
        close_date=None,
        originator=originator,
        contributors=tuple(x for x in people if x.email),
        signal_count=opp.signal_count,
        kinds=tuple(opp.kinds),
        first_seen_at=opp.first_seen_at,
        source_links=tuple(source_links),
        is_new=opp.crm_id is None,
        crm_id=opp.crm_id,
    )


@dataclass(frozen=True)
class MergedAway:
    """A merged-away opportunity whose job came due: what closing its CRM record needs."""

    opportunity_id: uuid.UUID
    version: int
    crm_id: str | None  # its CRM record in this CRM, if any
    still_open: bool  # a record the seller already closed (won or lost) is theirs: it is not closed again
    survivor_id: uuid.UUID  # the end of the merge chain
    survivor_crm_id: str | None


def merged_away(session: Session, opportunity_ids: Sequence[uuid.UUID], crm: str) -> dict[uuid.UUID, MergedAway]:
    """The merged-away ones among ``opportunity_ids``, each with the survivor its merges lead to."""
    if not opportunity_ids:
        return {}
    out: dict[uuid.UUID, MergedAway] = {}
    rows = session.exec(
        select(Opportunity).where(
            col(Opportunity.id).in_(list(opportunity_ids)), col(Opportunity.merged_into_id).is_not(None)
        )
    )
    for opp in rows:
        survivor, hops = opp, 0
        while survivor.merged_into_id is not None and hops < 50:
            nxt = session.get(Opportunity, survivor.merged_into_id)
            if nxt is None:
                break
            survivor, hops = nxt, hops + 1
        out[opp.id] = MergedAway(
            opportunity_id=opp.id,
            version=opp.version,
            crm_id=opp.crm_id if opp.crm == crm else None,
            still_open=opp.status == "open",
            survivor_id=survivor.id,
            survivor_crm_id=survivor.crm_id if survivor.crm == crm else None,
        )
    return out
