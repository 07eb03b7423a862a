"""Every Salesforce JSON/CSV shape the adapter reads or writes, translated to and from ``schemas.crm``.

Two write shapes exist on purpose (GUARANTEE 5): ``create_fields`` carries the seller's fields (Name,
StageName, CloseDate, Amount, OwnerId, AccountId) and is only ever sent as a *create*, which fails with
DUPLICATE_VALUE on the unique external id if the Opportunity exists; ``owned_fields`` carries only the
service's own fields and is what an upsert sends, so an upsert can never overwrite a seller's edit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from integrations.salesforce.config import SalesforceConfig
from schemas.crm import AccountRecord, OpportunityRecord, OutcomeRecord, OutcomeStatus, UpsertResult, UserRecord

CRM_NAME = "salesforce"
OPPORTUNITY_NAME_MAX = 120  # Opportunity.Name is a 120-character text field
LIST_SEPARATOR = ";"  # also the multi-select picklist separator, so Kinds can become a picklist


@dataclass(frozen=True)
class RecordFailure:
    """A per-record Salesforce error: ``statusCode`` plus the fields it names (never the message text)."""

    code: str
    fields: tuple[str, ...] = ()


def soql_datetime(value: datetime) -> str:
    """A SOQL datetime literal in UTC with milliseconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def soql_string(value: str) -> str:
    """A quoted SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_sf_datetime(value: str | None) -> datetime | None:
    """Parse Salesforce's ``2024-05-06T07:08:09.000+0000`` into an aware datetime."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text)


def _join(values: Iterable[str], limit: int, sep: str = LIST_SEPARATOR) -> str:
    text = sep.join(dict.fromkeys(v for v in values if v))  # dedupe, keep order
    return text[:limit]


def owned_fields(record: OpportunityRecord, config: SalesforceConfig) -> dict[str, Any]:
    """The service's own fields, keyed by the external id; safe to send on every sync."""
    f = config.fields
    limit = config.max_text_length
    return {
        f.external_id: record.opportunity_id,
        f.originator_email: record.originator.email,
        f.originator_function: record.originator.function,
        f.contributors: _join((c.email for c in record.contributors), limit),
        f.contributor_functions: _join((c.function for c in record.contributors), limit),
        f.signal_count: record.signal_count,
        f.kinds: _join(record.kinds, limit),
        f.first_seen: soql_datetime(record.first_seen_at),
        f.source_links: _join(record.source_links, limit, "\n"),
    }


def create_fields(record: OpportunityRecord, config: SalesforceConfig, today: date) -> dict[str, Any]:
    """Owned fields plus the seller's fields, for creating a new Opportunity only."""
    fields = owned_fields(record, config)
    fields["Name"] = record.name[:OPPORTUNITY_NAME_MAX]
    fields["StageName"] = config.initial_stage
    close = record.close_date or today + timedelta(days=config.close_date_offset_days)
    fields["CloseDate"] = close.isoformat()
    if record.amount is not None:
        fields["Amount"] = float(record.amount)
    if record.account_crm_id:
        fields["AccountId"] = record.account_crm_id
    if record.owner_crm_id:
        fields["OwnerId"] = record.owner_crm_id
    return fields


def sobject(type_name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A record as sObject Collections expect it, with ``attributes.type``."""
    return {"attributes": {"type": type_name}, **fields}


def bulk_row(fields: Mapping[str, Any]) -> dict[str, str]:
    """A CSV row for Bulk API 2.0: strings only; None is left out (an empty cell changes nothing)."""
    out: dict[str, str] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            out[name] = str(int(value))
        else:
            out[name] = str(value)
    return out


def collection_failure(item: Mapping[str, Any]) -> RecordFailure | None:
    """The first error of one sObject Collections result, or None if it succeeded."""
    if item.get("success"):
        return None
    errors = item.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
    code = str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN_ERROR")
    return RecordFailure(code, tuple(str(f) for f in first.get("fields") or ()))


def bulk_failure(sf_error: str) -> RecordFailure:
    """Parse a Bulk API 2.0 ``sf__Error`` cell, ``CODE:message:FIELD1,FIELD2 --``, into code and fields."""
    code, _, rest = sf_error.partition(":")
    tail = rest.rsplit(":", 1)[-1].replace("--", "").strip() if ":" in rest else ""
    fields = tuple(f.strip() for f in tail.replace(" ", ",").split(",") if f.strip())
    return RecordFailure(code.strip() or "UNKNOWN_ERROR", fields)


def error_result(opportunity_id: str, failure: RecordFailure) -> UpsertResult:
    where = f" on {', '.join(failure.fields)}" if failure.fields else ""
    return UpsertResult(
        opportunity_id=opportunity_id,
        error_code=failure.code,
        # Built from the code and field names only: Salesforce messages can quote record values.
        error_message=f"Salesforce rejected the record: {failure.code}{where}",
        error_field=failure.fields[0] if failure.fields else None,
    )


def outcome_status(is_closed: bool, is_won: bool) -> OutcomeStatus:
    """Status from the stage's IsClosed/IsWon metadata, never from its label."""
    if is_closed:
        return OutcomeStatus.won if is_won else OutcomeStatus.lost
    return OutcomeStatus.open


def outcome_from_row(
    row: Mapping[str, Any],
    config: SalesforceConfig,
    *,
    stage_changed_at: datetime | None = None,
    currency: str | None = None,
) -> OutcomeRecord:
    amount = row.get("Amount")
    close = row.get("CloseDate")
    note = row.get(config.note_field) if config.note_field else None
    return OutcomeRecord(
        opportunity_id=str(row[config.fields.external_id]),
        crm_id=str(row["Id"]),
        status=outcome_status(bool(row.get("IsClosed")), bool(row.get("IsWon"))),
        stage=row.get("StageName"),
        amount=Decimal(str(amount)) if amount is not None else None,
        currency=row.get("CurrencyIsoCode") or currency,
        close_date=date.fromisoformat(close) if close else None,
        note=str(note) if note else None,
        changed_at=parse_sf_datetime(row.get("SystemModstamp")),
        stage_changed_at=stage_changed_at,
    )


def outcome_fields(config: SalesforceConfig) -> list[str]:
    fields = ["Id", config.fields.external_id, "StageName", "Amount", "IsClosed", "IsWon", "CloseDate"]
    if config.note_field:
        fields.append(config.note_field)
    return [*fields, "SystemModstamp"]


def website_domain(website: str | None) -> str | None:
    """``https://www.acme.com/en`` -> ``acme.com``."""
    if not website:
        return None
    text = website.strip()
    host = urlsplit(text if "://" in text else f"//{text}").hostname
    if not host:
        return None
    host = host.lower()
    return host[4:] if host.startswith("www.") else host


ACCOUNT_FIELDS = ("Id", "Name", "Website", "BillingCountry", "OwnerId", "Owner.Email", "SystemModstamp")


def account_from_row(row: Mapping[str, Any]) -> AccountRecord:
    owner = row.get("Owner") or {}
    domain = website_domain(row.get("Website"))
    return AccountRecord(
        crm=CRM_NAME,
        crm_id=str(row["Id"]),
        name=str(row.get("Name") or ""),
        domains=(domain,) if domain else (),
        country=row.get("BillingCountry"),
        owner_crm_id=row.get("OwnerId"),
        owner_email=owner.get("Email") if isinstance(owner, Mapping) else None,
        updated_at=parse_sf_datetime(row.get("SystemModstamp")),
    )


USER_FIELDS = ("Id", "Email", "Name", "IsActive", "SystemModstamp")


def user_from_row(row: Mapping[str, Any]) -> UserRecord:
    return UserRecord(
        crm=CRM_NAME,
        crm_id=str(row["Id"]),
        email=str(row.get("Email") or ""),
        name=row.get("Name"),
        active=bool(row.get("IsActive", True)),
    )


def team_member(opportunity_crm_id: str, user_id: str, config: SalesforceConfig) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "OpportunityId": opportunity_crm_id,
        "UserId": user_id,
        "TeamMemberRole": config.team_member_role,
    }
    if config.team_access_level:
        fields["OpportunityAccessLevel"] = config.team_access_level
    return sobject("OpportunityTeamMember", fields)


def incremental_soql(fields: Iterable[str], sobject_name: str, since: datetime | None, extra: str = "") -> str:
    """``SELECT … WHERE SystemModstamp >= since ORDER BY SystemModstamp``; ``>=`` so a record stamped in the
    cursor's own millisecond is delivered again rather than missed (pulls are idempotent)."""
    conditions = [c for c in (extra, f"SystemModstamp >= {soql_datetime(since)}" if since else "") if c]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT {', '.join(fields)} FROM {sobject_name}{where} ORDER BY SystemModstamp ASC"
