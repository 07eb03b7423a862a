"""A small hand-computable dataset written straight to the database, shared by the report, feed, outcome and
privacy tests (no tests here). Times are fixed in early 2025; values are in SEK unless stated.

    opp1 @ acme (owner o1@ourco.se): ann 2025-01-10, bob 01-12, cat 01-15; 1000.00, won; synced +2 h;
             first stage change +48 h
    opp2 @ acme: ann 2025-02-01; 500.00, open; synced +4 h; no stage change
    opp3 @ beta (owner o2@ourco.se): bob 2025-02-05, ann 02-06; 100.01, lost; synced +1 h; stage change +24 h
    opp4 @ beta: cat 2025-02-20; 400.00, open; never synced; no stage change
    one signal by cat on 2025-03-01 waiting for review (no account)

ann: support, team L2; bob: delivery, team D1; cat: sales, team S1.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.core.db import transaction
from app.opportunities.models import Credit, Opportunity
from app.reports.milestones import record_milestone
from app.signals.models import Signal


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


@dataclass
class Dataset:
    people: dict[str, uuid.UUID] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, uuid.UUID] = field(default_factory=dict)
    opps: dict[str, uuid.UUID] = field(default_factory=dict)
    signals: dict[str, list[uuid.UUID]] = field(default_factory=dict)


PEOPLE = {
    "ann": ("ann.lind@ourco.se", "Ann Lindqvist", "support", "L2"),
    "bob": ("bob.berg@ourco.se", "Bob Bergström", "delivery", "D1"),
    "cat": ("cat.ek@ourco.se", "Catarina Ek", "sales", "S1"),
}
OPPS = {
    # name: account, [(person, when)], amount, status, synced after (h), first stage change after (h)
    "opp1": ("acme", [("ann", at(1, 10)), ("bob", at(1, 12)), ("cat", at(1, 15))], "1000.00", "won", 2, 48),
    "opp2": ("acme", [("ann", at(2, 1))], "500.00", "open", 4, None),
    "opp3": ("beta", [("bob", at(2, 5)), ("ann", at(2, 6))], "100.01", "lost", 1, 24),
    "opp4": ("beta", [("cat", at(2, 20))], "400.00", "open", None, None),
}


def build(engine: sa.Engine) -> Dataset:
    data = Dataset()
    firsts: dict[str, datetime] = {}
    with transaction(engine) as session:
        for key, (email, name, function, team) in PEOPLE.items():
            c = Contributor(email=email, name=name, function=function, team=team)
            session.add(c)
            data.people[key], data.emails[key] = c.id, email
        for key, owner in (("acme", "o1@ourco.se"), ("beta", "o2@ourco.se")):
            a = Account(crm_id=f"crm-{key}", name=f"{key.capitalize()} AB", domains=[f"{key}.se"], owner=owner)
            session.add(a)
            data.accounts[key] = a.id
        session.flush()
        for key, (account, reports, amount, status, synced_h, stage_h) in OPPS.items():
            first = reports[0][1]
            opp = Opportunity(
                account_id=data.accounts[account],
                title=f"{key} title",
                kinds=["expansion"],
                signal_count=len(reports),
                first_seen_at=first,
                last_seen_at=reports[-1][1],
                status=status,
                amount=Decimal(amount),
                currency="SEK",
                synced_at=first + timedelta(hours=synced_h) if synced_h is not None else None,
                crm_id=None,
                stage_changed_at=first + timedelta(hours=stage_h) if stage_h is not None else None,
                closed_at=first + timedelta(days=20) if status in ("won", "lost") else None,
                note="Signed, thanks!" if status == "won" else None,
            )
            session.add(opp)
            session.flush()
            data.opps[key] = opp.id
            for rank, (person, when) in enumerate(reports):
                s = Signal(
                    contributor_id=data.people[person],
                    account_id=data.accounts[account],
                    opportunity_id=opp.id,
                    kind="expansion",
                    title=f"{key} seen by {person}",
                    body=f"{PEOPLE[person][1]} noticed more seats are needed.",
                    observed_at=when,
                    source_system="jira",
                    source_reference=f"{key}-{person}",
                    customer_hint={"domain": f"{account}.se"},
                )
                session.add(s)
                session.flush()
                data.signals.setdefault(person, []).append(s.id)
                session.add(
                    Credit(
                        opportunity_id=opp.id,
                        contributor_id=data.people[person],
                        role="originator" if rank == 0 else "co_contributor",
                        first_signal_id=s.id,
                        first_observed_at=when,
                    )
                )
                firsts[person] = min(firsts.get(person, when), when)
            if synced_h is not None or stage_h is not None:
                record_milestone(
                    session,
                    opp.id,
                    first_synced_at=first + timedelta(hours=synced_h) if synced_h is not None else None,
                    first_stage_changed_at=first + timedelta(hours=stage_h) if stage_h is not None else None,
                )
        review = Signal(
            contributor_id=data.people["cat"],
            status="needs_review",
            kind="other",
            title="Unclear customer",
            body="Someone at a customer asked about pricing.",
            observed_at=at(3, 1),
            source_system="webform",
            source_reference="review-1",
        )
        session.add(review)
        session.flush()
        data.signals["cat"].append(review.id)
        for key, person_id in data.people.items():
            stored = session.get(Contributor, person_id)
            assert stored is not None
            stored.first_signal_at = firsts[key]
            stored.signal_count = len(data.signals[key])
            session.add(stored)
    return data
