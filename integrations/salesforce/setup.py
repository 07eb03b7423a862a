"""The custom Opportunity fields the adapter needs, checked by describe and created by the Tooling API.

Creating a field with ``POST tooling/sobjects/CustomField`` is idempotent here because only missing fields
are created. The Tooling API grants no field-level security, so a freshly created field is invisible to the
adapter until a permission set grants it; the adapter's ``setup`` creates and assigns that permission set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.salesforce.config import SalesforceConfig


@dataclass(frozen=True)
class CustomFieldSpec:
    name: str  # API name, ending in __c
    label: str
    metadata_type: str  # Tooling API CustomField type: Text, LongTextArea, Number, DateTime, Email, Lookup
    external_id: bool = False
    reference_to: str | None = None  # a Lookup's target object

    def tooling_body(self, sobject: str = "Opportunity") -> dict[str, Any]:
        metadata: dict[str, Any] = {"label": self.label, "type": self.metadata_type}
        if self.metadata_type == "Text":
            metadata["length"] = 255
        elif self.metadata_type == "LongTextArea":
            metadata.update(length=131072, visibleLines=3)
        elif self.metadata_type == "Number":
            metadata.update(precision=18, scale=0)
        elif self.metadata_type == "Lookup":
            # A lookup needs its target, a relationship name and what happens when the target is deleted
            # (CustomField metadata: referenceTo, relationshipName, deleteConstraint; Metadata API Developer Guide).
            metadata.update(
                referenceTo=self.reference_to,
                relationshipName=self.name.removesuffix("__c"),
                relationshipLabel=self.label,
                deleteConstraint="SetNull",
            )
        if self.external_id:
            metadata.update(externalId=True, unique=True, caseSensitive=True)
        return {"FullName": f"{sobject}.{self.name}", "Metadata": metadata}


def custom_field_specs(config: SalesforceConfig) -> list[CustomFieldSpec]:
    """The fields the adapter writes, external id first."""
    f = config.fields
    return [
        CustomFieldSpec(f.external_id, "Signal Pipeline Id", "Text", external_id=True),
        CustomFieldSpec(f.originator_email, "Signal Originator Email", "Email"),
        CustomFieldSpec(f.originator_function, "Signal Originator Function", "Text"),
        CustomFieldSpec(f.contributors, "Signal Contributors", "LongTextArea"),
        CustomFieldSpec(f.contributor_functions, "Signal Contributor Functions", "LongTextArea"),
        CustomFieldSpec(f.signal_count, "Signal Count", "Number"),
        CustomFieldSpec(f.kinds, "Signal Kinds", "LongTextArea"),
        CustomFieldSpec(f.first_seen, "Signal First Seen", "DateTime"),
        CustomFieldSpec(f.source_links, "Signal Source Links", "LongTextArea"),
        CustomFieldSpec(f.loss_reason, "Signal Pipeline Loss Reason", "Text"),
        CustomFieldSpec(f.duplicate_of, "Duplicate Of", "Lookup", reference_to="Opportunity"),
    ]


def sandbox_field_types(config: SalesforceConfig) -> dict[str, str]:
    """The same fields as describe types, for seeding a sandbox org with the adapter's field names."""
    types = {
        "Text": "string",
        "LongTextArea": "textarea",
        "Number": "double",
        "DateTime": "datetime",
        "Email": "email",
        "Lookup": "reference",
    }
    return {spec.name: types[spec.metadata_type] for spec in custom_field_specs(config)}


@dataclass(frozen=True)
class SetupCheck:
    """What describe says about the custom fields."""

    missing: tuple[CustomFieldSpec, ...]  # absent from describe: not created, or invisible without access
    external_id_usable: bool  # the key field exists and is External ID + Unique
    read_only: tuple[CustomFieldSpec, ...] = ()  # visible but not updateable for this user


def check_fields(describe: Mapping[str, Any], config: SalesforceConfig) -> SetupCheck:
    existing = {str(f.get("name")): f for f in describe.get("fields") or [] if isinstance(f, Mapping)}
    specs = custom_field_specs(config)
    missing = tuple(spec for spec in specs if spec.name not in existing)
    read_only = tuple(
        spec for spec in specs if spec.name in existing and not existing[spec.name].get("updateable", True)
    )
    key = existing.get(config.fields.external_id)
    usable = key is None or (bool(key.get("externalId")) and bool(key.get("unique")))
    return SetupCheck(missing, usable, read_only)
