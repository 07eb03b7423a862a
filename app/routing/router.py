"""/v1/routing: the rules (admin writes, signals:read reads) and the route an opportunity got."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from app.core.api import EngineDep, SettingsDep, problems
from app.core.auth import AdminKey, ReadKey
from app.core.db import transaction
from app.opportunities.service import get as get_opportunity
from app.routing import service
from schemas.routing import OpportunityRouteRead, RoutingRuleIn, RoutingRuleRead

router = APIRouter(prefix="/v1/routing", tags=["routing"])


@router.get("/rules", response_model=list[RoutingRuleRead], responses=problems(401, 403))
def list_rules(engine: EngineDep, key: ReadKey) -> list[RoutingRuleRead]:
    """In the order they are tried; the first active rule that matches a new opportunity applies."""
    with transaction(engine) as session:
        return [service.rule_read(r) for r in service.list_rules(session)]


@router.post("/rules", status_code=201, response_model=RoutingRuleRead, responses=problems(401, 403, 422))
def create_rule(data: RoutingRuleIn, engine: EngineDep, settings: SettingsDep, key: AdminKey) -> RoutingRuleRead:
    with transaction(engine) as session:
        rule = service.create_rule(session, data, settings.contributor_functions, settings.signal_kinds)
        return service.rule_read(rule)


@router.get("/rules/{rule_id}", response_model=RoutingRuleRead, responses=problems(401, 403, 404))
def get_rule(rule_id: uuid.UUID, engine: EngineDep, key: ReadKey) -> RoutingRuleRead:
    with transaction(engine) as session:
        return service.rule_read(service.get_rule(session, rule_id))


@router.put("/rules/{rule_id}", response_model=RoutingRuleRead, responses=problems(401, 403, 404, 422))
def replace_rule(
    rule_id: uuid.UUID, data: RoutingRuleIn, engine: EngineDep, settings: SettingsDep, key: AdminKey
) -> RoutingRuleRead:
    with transaction(engine) as session:
        rule = service.replace_rule(session, rule_id, data, settings.contributor_functions, settings.signal_kinds)
        return service.rule_read(rule)


@router.delete("/rules/{rule_id}", status_code=204, responses=problems(401, 403, 404))
def delete_rule(rule_id: uuid.UUID, engine: EngineDep, key: AdminKey) -> Response:
    """Routes it already gave stay, with its name."""
    with transaction(engine) as session:
        service.delete_rule(session, rule_id)
    return Response(status_code=204)


@router.get(
    "/opportunities/{opportunity_id}",
    response_model=OpportunityRouteRead,
    responses=problems(401, 403, 404),
    summary="Who must react to an opportunity, by when, whether anyone did, and whether it escalated",
)
def opportunity_route(opportunity_id: uuid.UUID, engine: EngineDep, key: ReadKey) -> OpportunityRouteRead:
    with transaction(engine) as session:
        get_opportunity(session, opportunity_id, key)  # 404 for opportunities a bound key may not see
        return service.route_of(session, opportunity_id)
