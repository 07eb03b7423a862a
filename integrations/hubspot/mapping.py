"""Translation between CRM-neutral records and HubSpot's property maps. Pure functions, no I/O.

HubSpot property values are strings on the wire; datetimes go out as ISO 8601 UTC with milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.hubspot.config import HubSpotConfig, HubSpotPropertyNames
from schemas.crm import AccountRecord, OpportunityRecord, OutcomeRecord, OutcomeStatus, UserRecord

CRM = "hubspot"
MAX_VALUE_CHARS = 65_536  # HubSpot's limit for a string property value

# Seller-owned deal properties: written once at creation, never again (guarantee 5).
SELLER_PROPERTIES = (
    "dealname",
    "pipeline",
    "dealstage",
    "amount",
    "deal_currency_code",
    "closedate",
    "hubspot_owner_id",
)
COLLABORATORS = "hs_all_collaborator_owner_ids"
OUTCOME_PROPERTIES = (
    "dealstage",
    "pipeline",
    "amount",
    "deal_currency_code",
    "closedate",
    "hs_lastmodifieddate",
    "closed_lost_reason",
    "closed_won_reason",
)
# read with their history: the stage's history says when the deal entered its current stage
HISTORY_PROPERTIES = ("dealstage",)
COMPANY_PROPERTIES = ("name", "domain", "hs_additional_domains", "country", "hubspot_owner_id", "hs_lastmodifieddate")


def hs_datetime(value: datetime | date) -> str:
    """ISO 8601 UTC with milliseconds, as HubSpot returns datetimes; dates become midnight UTC."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_datetime(value: str | None) -> datetime | None:
    """Parse HubSpot's ISO 8601 or epoch-millisecond values; None for empty or unparseable input."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return from_epoch_millis(int(v)) if len(v) <= 15 else None
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# Later than any real event (year 2200): a larger epoch value is not a time we can represent faithfully.
_LATEST_MILLIS = 7_258_118_400_000


def from_epoch_millis(value: object) -> datetime | None:
    """Epoch milliseconds (HubSpot's occurredAt and timestamps) as a datetime; None when not a plausible time."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < _LATEST_MILLIS:
        return None  # also NaN, which fails every comparison
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def epoch_ms(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(int(value.timestamp() * 1000))


def _decimal(value: str | None) -> Decimal | None:
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _clip(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS]


def own_properties(
    record: OpportunityRecord, names: HubSpotPropertyNames, collaborator_ids: Iterable[str] | None
) -> dict[str, str]:
    """The properties the service owns and keeps current on every sync (never seller fields)."""
    people = [record.originator, *(c for c in record.contributors if c.email != record.originator.email)]
    props = {
        names.opportunity_id: record.opportunity_id,
        names.originator_email: record.originator.email,
        names.originator_function: record.originator.function,
        names.contributors: _clip(";".join(p.email for p in people)),
        names.contributor_functions: ";".join(sorted({p.function for p in people})),
        names.signal_count: str(record.signal_count),
        names.kinds: ";".join(record.kinds),
        names.first_seen_at: hs_datetime(record.first_seen_at),
        names.source_links: _clip("\n".join(record.source_links)),
    }
    if collaborator_ids is not None:
        props[COLLABORATORS] = ";".join(collaborator_ids)
    return props


def seller_properties(record: OpportunityRecord, config: HubSpotConfig) -> dict[str, str]:
    """The seller-owned properties, sent only when the deal is created."""
    props = {
        "dealname": _clip(record.name),
        "pipeline": config.pipeline_id,
        "dealstage": config.initial_stage_id,
    }
    if record.amount is not None:
        props["amount"] = str(record.amount)
        if record.currency:
            props["deal_currency_code"] = record.currency
    if record.close_date is not None:
        props["closedate"] = hs_datetime(record.close_date)
    if record.owner_crm_id:
        props["hubspot_owner_id"] = record.owner_crm_id
    return props


def collaborator_ids(record: OpportunityRecord, owner_by_email: Mapping[str, str]) -> list[str]:
    """Owner ids of the contributors who are HubSpot users, originator first, without the deal owner."""
    out: list[str] = []
    for person in (record.originator, *record.contributors):
        oid = owner_by_email.get(person.email.lower())
        if oid and oid != record.owner_crm_id and oid not in out:
            out.append(oid)
    return out


@dataclass(frozen=True)
class StageInfo:
    """Stage metadata from the pipelines API: the only basis for won/lost (labels are renamed freely)."""

    pipeline_id: str
    stage_id: str
    label: str
    is_closed: bool
    probability: float | None


def stage_info(pipelines: Iterable[Any]) -> dict[tuple[str, str], StageInfo]:
    """Index the SDK's Pipeline objects by (pipeline id, stage id)."""
    out: dict[tuple[str, str], StageInfo] = {}
    for p in pipelines:
        for s in p.stages or []:
            meta: Mapping[str, str] = s.metadata or {}
            try:
                prob: float | None = float(meta["probability"])
            except (KeyError, ValueError):
                prob = None
            closed = str(meta.get("isClosed", "false")).lower() == "true"
            out[(str(p.id), str(s.id))] = StageInfo(str(p.id), str(s.id), str(s.label), closed, prob)
    return out


def outcome_status(stage: StageInfo | None, not_pursued: Iterable[str] = ()) -> OutcomeStatus:
    """won = closed with probability 1.0; lost = closed with probability 0; else open."""
    if stage is None or not stage.is_closed:
        return OutcomeStatus.open
    if stage.probability is not None and stage.probability >= 1.0:
        return OutcomeStatus.won
    if stage.stage_id in set(not_pursued):
        return OutcomeStatus.not_pursued
    if stage.probability is not None and stage.probability <= 0.0:
        return OutcomeStatus.lost
    return OutcomeStatus.open


def stage_entered_at(history: Any, stage_id: str | None) -> datetime | None:
    """When the deal entered its current stage: the oldest timestamp of the newest run of that stage value in
    ``propertiesWithHistory.dealstage`` (newest first)."""
    entries = history.get("dealstage") if isinstance(history, Mapping) else None
    if not stage_id or not isinstance(entries, list):
        return None
    entered: datetime | None = None
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("value") != stage_id:
            break
        entered = parse_datetime(str(entry.get("timestamp") or "")) or entered
    return entered


def outcome_from_deal(
    crm_id: str,
    props: Mapping[str, str | None],
    stages: Mapping[tuple[str, str], StageInfo],
    config: HubSpotConfig,
    *,
    history: Any = None,
    currency: str | None = None,
) -> OutcomeRecord | None:
    """An outcome for one of our deals; None for deals without our opportunity id. ``currency`` is the deal's,
    or the portal's company currency for a deal that names none."""
    opportunity_id = props.get(config.properties.opportunity_id)
    if not opportunity_id:
        return None
    stage_id = props.get("dealstage") or None
    stage = stages.get((props.get("pipeline") or config.pipeline_id, stage_id or ""))
    if stage is None and stage_id:
        stage = next((s for (_, sid), s in stages.items() if sid == stage_id), None)
    status = outcome_status(stage, config.not_pursued_stage_ids)
    close = parse_datetime(props.get("closedate"))
    note = props.get("closed_won_reason") if status == OutcomeStatus.won else props.get("closed_lost_reason")
    return OutcomeRecord(
        opportunity_id=opportunity_id,
        crm_id=crm_id,
        status=status,
        stage=stage_id,
        amount=_decimal(props.get("amount")),
        currency=currency or props.get("deal_currency_code") or None,
        close_date=close.date() if close else None,
        note=(note or None) if status != OutcomeStatus.open else None,
        changed_at=parse_datetime(props.get("hs_lastmodifieddate")),
        stage_changed_at=stage_entered_at(history, stage_id),
    )


def account_from_company(
    crm_id: str, props: Mapping[str, str | None], owner_email_by_id: Mapping[str, str]
) -> AccountRecord:
    domains = [props.get("domain") or "", *(props.get("hs_additional_domains") or "").split(";")]
    owner = props.get("hubspot_owner_id") or None
    return AccountRecord(
        crm=CRM,
        crm_id=crm_id,
        name=props.get("name") or "",
        domains=tuple(dict.fromkeys(d.strip().lower() for d in domains if d and d.strip())),
        country=props.get("country") or None,
        owner_crm_id=owner,
        owner_email=owner_email_by_id.get(owner) if owner else None,
        updated_at=parse_datetime(props.get("hs_lastmodifieddate")),
    )


def user_from_owner(owner: Any) -> UserRecord | None:
    """A UserRecord from an SDK PublicOwner; None for owners without e-mail (queues)."""
    if not owner.email:
        return None
    name = " ".join(x for x in (owner.first_name, owner.last_name) if x) or None
    return UserRecord(
        crm=CRM, crm_id=str(owner.id), email=str(owner.email).lower(), name=name, active=not owner.archived
    )


def deal_property_definitions(names: HubSpotPropertyNames) -> list[dict[str, Any]]:
    """PropertyCreate fields for every property the service owns (``setup`` creates the missing ones)."""

    def prop(name: str, label: str, type_: str, field_type: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "label": label,
            "type": type_,
            "field_type": field_type,
            "group_name": names.group,
            **extra,
        }

    return [
        prop(
            names.opportunity_id,
            "Signal pipeline opportunity id",
            "string",
            "text",
            has_unique_value=True,
            description="Upsert key written by signal-pipeline; do not edit",
        ),
        prop(names.originator_email, "Originator e-mail", "string", "text"),
        prop(names.originator_function, "Originator function", "string", "text"),
        prop(names.contributors, "Contributors", "string", "textarea"),
        prop(names.contributor_functions, "Contributor functions", "string", "text"),
        prop(names.signal_count, "Signal count", "number", "number"),
        prop(names.kinds, "Signal kinds", "string", "text"),
        prop(names.first_seen_at, "First seen", "datetime", "date"),
        prop(names.source_links, "Source links", "string", "textarea"),
    ]
