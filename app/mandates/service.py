"""Mandate rules: the policy per (function, kind), its most specific match, and what it says about one signal.

Never commits.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml
from pydantic import ValidationError
from sqlmodel import Session

from app.core import versions
from app.core.errors import InvalidInput, field_errors, invalid
from app.core.timeutil import utcnow
from app.mandates.models import Mandate
from app.mandates.repo import MandateRepo
from schemas.common import FieldError, Money
from schemas.mandates import ANY, MandateLevel, MandatePolicy, MandatePolicyRead, MandateRead, MandateRule

LEVELS: tuple[MandateLevel, ...] = ("report", "propose", "quote")
# Without a rule a contributor reports, and the account owner takes it from there.
DEFAULT_RULE = MandateRule(function=ANY, kind=ANY, level="report")


def _rule(row: Mandate) -> MandateRule:
    limit = None
    if row.limit_amount is not None and row.limit_currency:
        limit = Money(amount=row.limit_amount, currency=row.limit_currency)
    return MandateRule(function=row.function, kind=row.kind, level=row.level, limit=limit, note=row.note)


@dataclass(frozen=True)
class Policy:
    """The policy as loaded once per request: rules by (function, kind)."""

    rules: dict[tuple[str, str], MandateRule]

    def rule_for(self, function: str, kind: str) -> MandateRule:
        """The most specific rule: function and kind, then function only, then kind only, then the catch-all."""
        for key in ((function, kind), (function, ANY), (ANY, kind), (ANY, ANY)):
            if key in self.rules:
                return self.rules[key]
        return DEFAULT_RULE

    def for_signal(self, function: str, kind: str, amount: Decimal | None, currency: str | None) -> MandateRead:
        """What the contributor may do with this signal; a value above the rule's limit leaves it to the owner."""
        rule = self.rule_for(function, kind)
        level = rule.level
        within: bool | None = None
        if rule.limit is not None and amount is not None and currency == rule.limit.currency:
            within = amount <= rule.limit.amount
        if within is False:
            level = "report"
        return MandateRead(
            level=level,
            may_propose=level in ("propose", "quote"),
            may_quote=level == "quote",
            limit=rule.limit,
            within_limit=within,
            follow_up="account_owner" if level == "report" else "contributor",
            message=_message(rule, level, within),
            note=rule.note,
            rule={"function": rule.function, "kind": rule.kind},
        )


def _money(m: Money) -> str:
    return f"{m.amount:,.0f} {m.currency}".replace(",", " ")


def _message(rule: MandateRule, level: MandateLevel, within: bool | None) -> str:
    if within is False and rule.limit is not None:
        return f"Its value is above your limit of {_money(rule.limit)}: the account owner will follow up."
    up_to = f" up to {_money(rule.limit)}" if rule.limit is not None else ""
    if level == "quote":
        return f"You may propose this to the customer and quote it{up_to}."
    if level == "propose":
        return f"You may propose this to the customer{up_to}; the account owner prepares any quote."
    return "Thank you: the account owner will follow up with the customer."


COUNTER = "mandates"


def load(session: Session) -> Policy:
    return Policy({(r.function, r.kind): _rule(r) for r in MandateRepo(session).all()})


def cached() -> versions.Versioned[Policy]:
    """A per-process copy of the policy, reloaded when ``replace_policy`` changed it (ingest reads it always)."""
    return versions.Versioned(COUNTER, load)


def read_policy(session: Session) -> MandatePolicyRead:
    rows = MandateRepo(session).all()
    return MandatePolicyRead(rules=[_rule(r) for r in rows], updated_at=max((r.updated_at for r in rows), default=None))


def replace_policy(
    session: Session, policy: MandatePolicy, functions: Collection[str], kinds: Collection[str]
) -> MandatePolicyRead:
    """Replace the whole policy; functions and kinds must be configured ones (or '*'), each pair at most once."""
    errors: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, rule in enumerate(policy.rules):
        if rule.function != ANY and rule.function not in functions:
            errors.append(FieldError(field=f"rules.{i}.function", code="unknown_function", reason=_one_of(functions)))
        if rule.kind != ANY and rule.kind not in kinds:
            errors.append(FieldError(field=f"rules.{i}.kind", code="unknown_kind", reason=_one_of(kinds)))
        if (rule.function, rule.kind) in seen:
            errors.append(
                FieldError(field=f"rules.{i}", code="duplicate_rule", reason="a function and kind pair appears twice")
            )
        seen.add((rule.function, rule.kind))
        if rule.limit is not None and rule.level == "report":
            errors.append(
                FieldError(field=f"rules.{i}.limit", code="limit_without_mandate", reason="only propose or quote")
            )
    if errors:
        raise InvalidInput("; ".join(f"{e.field}: {e.reason}" for e in errors[:5]), errors=errors)
    now = utcnow()
    versions.bump(session, COUNTER)
    MandateRepo(session).replace(
        [
            Mandate(
                function=r.function,
                kind=r.kind,
                level=r.level,
                limit_amount=r.limit.amount if r.limit else None,
                limit_currency=r.limit.currency if r.limit else None,
                note=r.note,
                updated_at=now,
            )
            for r in policy.rules
        ]
    )
    return read_policy(session)


def _one_of(values: Collection[str]) -> str:
    return f"must be * or one of: {', '.join(sorted(values))}"


def parse_yaml(text: str) -> MandatePolicy:
    """A policy file: ``rules:`` with the same fields as the API (see docs in README)."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise invalid("file", f"not valid YAML{where}", "invalid_yaml") from None
    if isinstance(data, list):
        data = {"rules": data}
    try:
        return MandatePolicy.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc.errors())
        raise InvalidInput("; ".join(f"{e.field}: {e.reason}" for e in errors[:5]), errors=errors) from None
