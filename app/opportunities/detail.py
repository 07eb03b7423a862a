"""An opportunity as the API and the web app show it: its account, outcome, credited contributors and signals."""

from __future__ import annotations

from sqlmodel import Session

from app.accounts.models import Account
from app.core.auth import Principal
from app.opportunities import service
from app.opportunities.models import Opportunity
from app.signals import service as signals
from app.signals.repo import SignalRepo
from schemas.opportunities import CreditRead, OpportunityRead, OpportunitySummary, OutcomeRead
from schemas.signals import AccountRef


def summary(opp: Opportunity, account: Account) -> OpportunitySummary:
    return OpportunitySummary.model_validate(
        {**opp.model_dump(), "account": AccountRef(id=account.id, crm_id=account.crm_id, name=account.name)}
    )


def detail(session: Session, opp: Opportunity, viewer: Principal) -> OpportunityRead:
    """The opportunity as ``viewer`` may see it: a key bound to a contributor gets its own signals and a count of
    the others', and colleagues by name, function and team (as in its feed), without their e-mail."""
    account = session.get(Account, opp.account_id)
    assert account is not None
    repo = SignalRepo(session)
    rows = repo.of_opportunity(opp.id)
    people, _, _ = repo.related(rows)
    shown = [s for s in rows if viewer.sees(s.contributor_id)]
    return OpportunityRead.model_validate(
        {
            **summary(opp, account).model_dump(),
            "outcome": OutcomeRead.model_validate(opp, from_attributes=True),
            "contributors": [
                CreditRead(
                    contributor_id=p.id,
                    email=p.email if viewer.sees(p.id) else None,
                    name=p.name,
                    function=p.function,
                    team=p.team,
                    role=c.role,
                    first_observed_at=c.first_observed_at,
                    signal_count=c.signal_count,
                )
                for c, p in service.credits_read(session, opp)
            ],
            "signals": [
                signals.seen_by(signals.build_read(s, people[s.contributor_id], account, opp), viewer) for s in shown
            ],
            "other_signals": len(rows) - len(shown),
        }
    )
