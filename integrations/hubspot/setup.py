"""Idempotent creation of the deal property group and properties the service owns.

Read first, create what is missing; a 409 from a concurrent setup counts as "already there". An existing
property named like our upsert key that is *not* unique is a configuration error: HubSpot cannot change
``hasUniqueValue`` after creation, so we refuse rather than write deals that could duplicate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate

from integrations.base import Rejected
from integrations.hubspot.client import HubSpotApis
from integrations.hubspot.config import HubSpotConfig
from integrations.hubspot.mapping import deal_property_definitions

T = TypeVar("T")
Call = Callable[[str, Callable[[], Any]], Any]


def ensure_deal_properties(apis: HubSpotApis, config: HubSpotConfig, call: Call) -> list[str]:
    """Create the property group and any missing properties; return what was created ("group:x", names)."""
    names = config.properties
    created: list[str] = []
    groups = call("properties.groups.get_all", lambda: apis.properties_groups.get_all("deals"))
    if names.group not in {g.name for g in groups.results}:
        body = PropertyGroupCreate(name=names.group, label=names.group_label)
        if _create(call, "properties.groups.create", lambda: apis.properties_groups.create("deals", body)):
            created.append(f"group:{names.group}")
    existing = {p.name: p for p in call("properties.get_all", lambda: apis.properties_core.get_all("deals")).results}
    key = existing.get(names.opportunity_id)
    if key is not None and not key.has_unique_value:
        raise Rejected(
            f"HubSpot deal property {names.opportunity_id} exists without hasUniqueValue",
            code="PROPERTY_NOT_UNIQUE",
            field=names.opportunity_id,
        )
    for definition in deal_property_definitions(names):
        if definition["name"] in existing:
            continue
        if _create(
            call,
            "properties.create",
            functools.partial(apis.properties_core.create, "deals", PropertyCreate(**definition)),
        ):
            created.append(str(definition["name"]))
    _check_pipeline(apis, config, call)
    return created


def _create(call: Call, op: str, fn: Callable[[], Any]) -> bool:
    try:
        call(op, fn)
    except Rejected as exc:
        if exc.status == 409:
            return False  # created concurrently by another setup run
        raise
    return True


def _check_pipeline(apis: HubSpotApis, config: HubSpotConfig, call: Call) -> None:
    pipelines = call("pipelines.get_all", lambda: apis.pipelines.get_all("deals")).results
    pipeline = next((p for p in pipelines if p.id == config.pipeline_id), None)
    if pipeline is None:
        raise Rejected(
            f"HubSpot deal pipeline {config.pipeline_id} not found", code="PIPELINE_NOT_FOUND", field="pipeline"
        )
    if config.initial_stage_id not in {s.id for s in pipeline.stages or []}:
        raise Rejected(
            f"HubSpot stage {config.initial_stage_id} not in pipeline {config.pipeline_id}",
            code="STAGE_NOT_FOUND",
            field="dealstage",
        )
