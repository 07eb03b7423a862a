"""Routing rules: the first matching rule gives a new opportunity its owner or queue and response time.
The escalation sweep tells subscribers, once, about each opportunity nobody reacted to in time. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.core import versions
from app.core.errors import InvalidInput, NotFound
from app.core.timeutil import utcnow
from app.notifications.events import Event, emit_many
from app.routing.models import OpportunityRoute, RoutingRule
from app.routing.repo import RoutingRepo
from app.signals.models import Signal
from schemas.common import FieldError
from schemas.routing import OpportunityRouteRead, RoutingRuleIn, RoutingRuleRead

SWEEP_BATCH = 500


@dataclass(frozen=True)
class Opening:
    """What a rule can match on: the signal that opened the opportunity, its reporter and its account."""

    kind: str
    function: str
    segment: str | None
    amount: Decimal | None
    currency: str | None


def opening(signal: Signal, contributor: Contributor, account: Account | None) -> Opening:
    return Opening(
        kind=signal.kind,
        function=contributor.function,
        segment=account.segment if account is not None else None,
        amount=signal.value_amount,
        currency=signal.value_currency,
    )


def matches(rule: RoutingRule, o: Opening) -> bool:
    """Every condition the rule gives holds; an amount condition needs a value in the rule's currency."""
    if rule.kinds and o.kind not in rule.kinds:
        return False
    if rule.functions and o.function not in rule.functions:
        return False
    if rule.segments and o.segment not in rule.segments:
        return False
    if rule.min_amount is not None or rule.max_amount is not None:
        if o.amount is None or o.currency != rule.currency:
            return False
        if rule.min_amount is not None and o.amount < rule.min_amount:
            return False
        if rule.max_amount is not None and o.amount > rule.max_amount:
            return False
    return True


def first_match(rules: Sequence[RoutingRule], o: Opening) -> RoutingRule | None:
    return next((r for r in rules if r.active and matches(r, o)), None)


def route_new(
    session: Session,
    openings: Sequence[tuple[uuid.UUID, Opening]],
    rules: Sequence[RoutingRule] | None = None,
) -> dict[uuid.UUID, OpportunityRoute]:
    """Route newly opened opportunities (two statements, whatever their number; one when the active ``rules``
    are given); those no rule matches get no route and no response time: the account owner has them as before."""
    if not openings:
        return {}
    repo = RoutingRepo(session)
    if rules is None:
        rules = repo.rules(active_only=True)
    now = utcnow()
    routes: dict[uuid.UUID, OpportunityRoute] = {}
    for opportunity_id, opening in openings:
        rule = first_match(rules, opening)
        if rule is not None:
            routes[opportunity_id] = OpportunityRoute(
                opportunity_id=opportunity_id,
                rule_id=rule.id,
                rule_name=rule.name,
                owner=rule.owner,
                queue=rule.queue,
                sla_hours=rule.sla_hours,
                routed_at=now,
                due_at=now + timedelta(hours=rule.sla_hours),
            )
    repo.add_routes(list(routes.values()))
    return routes


def escalate_due(session: Session, now: datetime | None = None, limit: int = SWEEP_BATCH) -> tuple[int, int]:
    """Settle up to ``limit`` routes that fell due: a reaction in time is recorded, the others escalate (an
    ``opportunity.overdue`` event) and are marked, so no later sweep sees them again.
    Returns (escalated, settled)."""
    now = now or utcnow()
    repo = RoutingRepo(session)
    due = repo.due(now, limit)
    reacted = [{"oid": i, "at": at} for i, at in due if at is not None]
    overdue = [i for i, at in due if at is None]
    repo.settle(reacted, "reacted_at")
    repo.settle([{"oid": i, "at": now} for i in overdue], "escalated_at")
    emit_many(
        session,
        [
            Event(
                "opportunity.overdue",
                r.opportunity_id,
                None,
                {
                    "rule": r.rule_name,
                    "owner": r.owner,
                    "queue": r.queue,
                    "sla_hours": r.sla_hours,
                    "due_at": r.due_at.isoformat(),
                },
            )
            for r in repo.routes(overdue)
        ],
    )
    return len(overdue), len(due)


def route_of(session: Session, opportunity_id: uuid.UUID) -> OpportunityRouteRead:
    found = RoutingRepo(session).route(opportunity_id)
    if found is None:
        raise NotFound("no route for this opportunity (no rule matched when it was opened)")
    route, reacted = found
    return OpportunityRouteRead(
        opportunity_id=route.opportunity_id,
        rule_id=route.rule_id,
        rule_name=route.rule_name,
        owner=route.owner,
        queue=route.queue,
        sla_hours=route.sla_hours,
        routed_at=route.routed_at,
        due_at=route.due_at,
        reacted_at=reacted,
        escalated_at=route.escalated_at,
        overdue=route.escalated_at is not None or (reacted is None and route.due_at <= utcnow()),
    )


# -- rules ----------------------------------------------------------------------------------------------------------
def _check_vocabulary(data: RoutingRuleIn, functions: Collection[str], kinds: Collection[str]) -> None:
    errors = [
        FieldError(field=f"kinds.{i}", code="unknown_kind", reason=f"must be one of: {', '.join(sorted(kinds))}")
        for i, k in enumerate(data.kinds)
        if k not in kinds
    ] + [
        FieldError(
            field=f"functions.{i}", code="unknown_function", reason=f"must be one of: {', '.join(sorted(functions))}"
        )
        for i, f in enumerate(data.functions)
        if f not in functions
    ]
    if errors:
        raise InvalidInput("; ".join(f"{e.field}: {e.reason}" for e in errors[:5]), errors=errors)


def _apply(rule: RoutingRule, data: RoutingRuleIn) -> RoutingRule:
    for name, value in data.model_dump().items():
        setattr(rule, name, sorted(set(value)) if isinstance(value, list) else value)
    rule.updated_at = utcnow()
    return rule


COUNTER = "routing_rules"


def active_rules(session: Session) -> list[RoutingRule]:
    """The active rules in the order they are tried, detached: a process keeps them (``cached``)."""
    rules = RoutingRepo(session).rules(active_only=True)
    for rule in rules:
        session.expunge(rule)
    return rules


def cached() -> versions.Versioned[list[RoutingRule]]:
    """A per-process copy of the active rules, reloaded when a rule is created, replaced or deleted."""
    return versions.Versioned(COUNTER, active_rules)


def create_rule(
    session: Session, data: RoutingRuleIn, functions: Collection[str], kinds: Collection[str]
) -> RoutingRule:
    _check_vocabulary(data, functions, kinds)
    rule = _apply(RoutingRule(name=data.name, sla_hours=data.sla_hours), data)
    versions.bump(session, COUNTER)
    session.add(rule)
    session.flush()
    return rule


def get_rule(session: Session, rule_id: uuid.UUID) -> RoutingRule:
    rule = RoutingRepo(session).rule(rule_id)
    if rule is None:
        raise NotFound("no such routing rule")
    return rule


def replace_rule(
    session: Session, rule_id: uuid.UUID, data: RoutingRuleIn, functions: Collection[str], kinds: Collection[str]
) -> RoutingRule:
    """New conditions apply to opportunities opened from now on; routes already given keep theirs."""
    rule = get_rule(session, rule_id)
    _check_vocabulary(data, functions, kinds)
    versions.bump(session, COUNTER)
    session.add(_apply(rule, data))
    session.flush()
    return rule


def delete_rule(session: Session, rule_id: uuid.UUID) -> None:
    versions.bump(session, COUNTER)
    session.delete(get_rule(session, rule_id))


def list_rules(session: Session) -> list[RoutingRule]:
    return RoutingRepo(session).rules()


def rule_read(rule: RoutingRule) -> RoutingRuleRead:
    return RoutingRuleRead.model_validate(rule, from_attributes=True)
