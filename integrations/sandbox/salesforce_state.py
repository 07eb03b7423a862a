"""In-memory Salesforce org for the sandbox: schema, records, stages, sessions, faults, Bulk 2.0 jobs.

Everything the HTTP layer (``integrations.sandbox.salesforce``) does goes through this object, under one
re-entrant lock, so the same state can be driven in-process by tests and over HTTP by other processes.
Record semantics follow ../shared/reference/crm-apis.md §b: external-id upsert with ``created`` flags,
``REQUIRED_FIELD_MISSING`` for Name/StageName/CloseDate, ``DUPLICATE_VALUE`` on unique external ids,
OpportunityTeamMember merge-on-duplicate, IsClosed/IsWon derived from OpportunityStage.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from integrations.sandbox.control import Fault, FaultKind, SandboxOpportunity
from integrations.sandbox.salesforce_soql import SoqlError, matches, parse_datetime, parse_soql

# Field types as describe reports them.
STRING, TEXTAREA, EMAIL, DOUBLE, CURRENCY, DATETIME, DATE, PICKLIST, REFERENCE, BOOLEAN, ID, URL = (
    "string",
    "textarea",
    "email",
    "double",
    "currency",
    "datetime",
    "date",
    "picklist",
    "reference",
    "boolean",
    "id",
    "url",
)

#: Custom Opportunity fields the adapter writes by default (name -> describe type); the external id first.
DEFAULT_OPPORTUNITY_CUSTOM_FIELDS: dict[str, str] = {
    "Signal_Pipeline_Id__c": STRING,
    "Signal_Originator_Email__c": EMAIL,
    "Signal_Originator_Function__c": STRING,
    "Signal_Contributors__c": TEXTAREA,
    "Signal_Contributor_Functions__c": TEXTAREA,
    "Signal_Count__c": DOUBLE,
    "Signal_Kinds__c": TEXTAREA,
    "Signal_First_Seen__c": DATETIME,
    "Signal_Source_Links__c": TEXTAREA,
    "Signal_Pipeline_Loss_Reason__c": STRING,
    "Signal_Pipeline_Duplicate_Of__c": REFERENCE,  # a lookup to Opportunity
}
DEFAULT_EXTERNAL_ID_FIELD = "Signal_Pipeline_Id__c"

MAX_COLLECTION_RECORDS = 200
ID_PREFIXES = {
    "Account": "001",
    "User": "005",
    "Opportunity": "006",
    "OpportunityTeamMember": "00q",
    "OpportunityStage": "01J",
    "CustomField": "00N",
    "Job": "750",
    "QueryLocator": "01g",
    "PermissionSet": "0PS",
    "FieldPermissions": "01k",
    "PermissionSetAssignment": "0Pa",
    "OpportunityHistory": "008",
    "Organization": "00D",
}
# Lookup relationship name -> (reference field, target object), for SOQL paths like Owner.Email.
RELATIONSHIPS = {
    "Owner": ("OwnerId", "User"),
    "Account": ("AccountId", "Account"),
    "Opportunity": ("OpportunityId", "Opportunity"),
    "User": ("UserId", "User"),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    external_id: bool = False
    unique: bool = False
    custom: bool = False
    reference_to: str | None = None
    length: int = 0  # maximum characters of a text field (describe's ``length``); 0 = not a text field


@dataclass(frozen=True)
class OpportunityStage:
    """A stage's metadata; Opportunity.IsClosed/IsWon/Probability derive from it, never from its label."""

    api_name: str
    is_closed: bool
    is_won: bool
    probability: int
    is_active: bool = True


DEFAULT_STAGES: tuple[OpportunityStage, ...] = (
    OpportunityStage("Prospecting", False, False, 10),
    OpportunityStage("Qualification", False, False, 10),
    OpportunityStage("Needs Analysis", False, False, 20),
    OpportunityStage("Value Proposition", False, False, 50),
    OpportunityStage("Proposal/Price Quote", False, False, 75),
    OpportunityStage("Negotiation/Review", False, False, 90),
    OpportunityStage("Closed Won", True, True, 100),
    OpportunityStage("Closed Lost", True, False, 0),
)


class RecordError(Exception):
    """A per-record failure, rendered as Salesforce's ``{"statusCode","message","fields"}``."""

    def __init__(self, status_code: str, message: str, fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.fields = list(fields)

    def as_json(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}


class RequestError(Exception):
    """A whole-request failure, rendered as Salesforce's ``[{"message","errorCode"}]`` with a status."""

    def __init__(self, status: int, error_code: str, message: str, fields: Iterable[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = list(fields) if fields is not None else None

    def as_json(self) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            body["fields"] = self.fields
        return [body]


def format_datetime(value: datetime) -> str:
    """Salesforce's REST datetime rendering: ``2024-05-06T07:08:09.123+0000``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def to_json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass
class BulkJob:
    id: str
    object: str
    operation: str
    external_id_field: str | None
    line_ending: str
    column_delimiter: str
    api_version: str
    created: datetime
    state: str = "Open"
    data: list[str] = field(default_factory=list)
    successful: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    polls_left: int = 0

    def info(self) -> dict[str, Any]:
        processed = len(self.successful) + len(self.failed)
        return {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": "005000000000001AAA",
            "createdDate": format_datetime(self.created),
            "systemModstamp": format_datetime(self.created),
            "state": self.state,
            "externalIdFieldName": self.external_id_field,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": "V2Ingest",
            "contentUrl": f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": processed if self.state == "JobComplete" else 0,
            "numberRecordsFailed": len(self.failed) if self.state == "JobComplete" else 0,
            "retries": 0,
            "totalProcessingTime": 0,
        }


_DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}


class SalesforceSandboxState:
    """The sandbox org. Thread-safe; implements ``integrations.sandbox.control.SandboxControl``."""

    def __init__(
        self,
        *,
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",  # noqa: S107 - a fixed sandbox credential
        username: str = "integration@sandbox.example",
        password: str = "sandbox-password",  # noqa: S107 - a fixed sandbox credential
        security_token: str = "",
        daily_api_limit: int = 15_000,
        query_page_size: int = 2000,
        bulk_polls_in_progress: int = 1,
        external_id_field: str = DEFAULT_EXTERNAL_ID_FIELD,
        opportunity_custom_fields: Mapping[str, str] | None = None,
        stages: Iterable[OpportunityStage] = DEFAULT_STAGES,
        team_selling: bool = False,
        can_manage_permissions: bool = True,
        currency: str = "EUR",
    ) -> None:
        self.lock = threading.RLock()
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.security_token = security_token
        self._initial_limits = (daily_api_limit, query_page_size, bulk_polls_in_progress)
        self.external_id_field = external_id_field
        self._initial_custom_fields = dict(
            DEFAULT_OPPORTUNITY_CUSTOM_FIELDS if opportunity_custom_fields is None else opportunity_custom_fields
        )
        self._initial_stages = tuple(stages)
        # Team Selling is off in a new org; OpportunityTeamMember does not exist until an admin enables it
        # ("Needs Team Selling enabled", object reference, crm-apis.md b6).
        self.team_selling = team_selling
        # Whether the integration user may create permission sets and assign them (View Setup / Assign
        # Permission Sets: PermissionSetAssignment "Special Access Rules" in the object reference).
        self.can_manage_permissions = can_manage_permissions
        self.currency = currency
        self.reset()

    # ------------------------------------------------------------------ control protocol

    def reset(self) -> None:
        with self.lock:
            # Tests tune these on a live sandbox; reset puts the constructor's values back.
            self.daily_api_limit, self.query_page_size, self.bulk_polls_in_progress = self._initial_limits
            self._ids = itertools.count(1)
            self._last_stamp = datetime(2000, 1, 1, tzinfo=UTC)
            self.schema: dict[str, dict[str, FieldSpec]] = _standard_schema()
            if not self.team_selling:
                del self.schema["OpportunityTeamMember"]
            # Custom fields created through the Tooling API that no permission set grants yet: invisible to the
            # integration user until one does (field-level security; FieldPermissions "To grant a user access to
            # a field, associate a FieldPermissions record with a PermissionSet that's assigned to a user",
            # https://developer.salesforce.com/docs/atlas.en-us.262.0.object_reference.meta/object_reference/sforce_api_objects_fieldpermissions.htm).
            # Fields present at reset were set up by an admin, with access.
            self.fls_controlled: set[tuple[str, str]] = set()
            for name, ftype in self._initial_custom_fields.items():
                self._add_custom_field("Opportunity", name, ftype, ext=name == self.external_id_field)
            self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in self.schema}
            self.stages: dict[str, OpportunityStage] = {}
            for stage in self._initial_stages:
                self.add_stage(stage)
            self.tokens: set[str] = set()
            self.faults: list[Fault] = []
            self.calls: list[str] = []
            self.token_requests = 0
            self.api_used = 0
            self.jobs: dict[str, BulkJob] = {}
            self.query_cursors: dict[str, tuple[str, list[dict[str, Any]]]] = {}
            # The integration user exists like in any org; it owns records created without OwnerId.
            self.integration_user_id = self.seed_user(self.username, "Integration User")
            # A single-currency org: amounts carry no CurrencyIsoCode, they are in the org's currency.
            self._insert_row("Organization", {"DefaultCurrencyIsoCode": self.currency})

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def seed_user(self, email: str, name: str | None = None, active: bool = True) -> str:
        with self.lock:
            for row in self.objects["User"].values():
                if str(row["Email"]).lower() == email.lower():
                    return str(row["Id"])
            return self._insert_row(
                "User",
                {"Email": email, "Username": email, "Name": name or email.split("@")[0], "IsActive": active},
            )

    def seed_account(self, name: str, domain: str | None = None, owner_email: str | None = None) -> str:
        with self.lock:
            owner_id = self.seed_user(owner_email) if owner_email else self.integration_user_id
            website = f"https://www.{domain}" if domain else None
            return self._insert_row("Account", {"Name": name, "Website": website, "OwnerId": owner_id})

    def opportunities(self) -> list[SandboxOpportunity]:
        with self.lock:
            out = []
            for row in self.objects["Opportunity"].values():
                full = self._with_derived("Opportunity", row)
                team = tuple(
                    str(tm["UserId"])
                    for tm in self.objects.get("OpportunityTeamMember", {}).values()
                    if tm["OpportunityId"] == row["Id"]
                )
                out.append(
                    SandboxOpportunity(
                        crm_id=str(row["Id"]),
                        opportunity_id=row.get(self.external_id_field),
                        account_crm_id=row.get("AccountId"),
                        owner_crm_id=row.get("OwnerId"),
                        properties={k: to_json_value(v) for k, v in full.items()},
                        collaborator_ids=team,
                    )
                )
            return out

    def set_stage(self, crm_id: str, stage: str, amount: float | None = None) -> None:
        fields: dict[str, Any] = {"StageName": stage}
        if amount is not None:
            fields["Amount"] = amount
        self.update_record("Opportunity", crm_id, fields)

    def call_count(self, path_prefix: str | None = None) -> int:
        with self.lock:
            if path_prefix is None:
                return len(self.calls)
            return sum(1 for p in self.calls if p.startswith(path_prefix))

    # ------------------------------------------------------------------ extra controls

    def add_stage(self, stage: OpportunityStage) -> None:
        with self.lock:
            self.stages[stage.api_name] = stage
            self._insert_row(
                "OpportunityStage",
                {
                    "ApiName": stage.api_name,
                    "MasterLabel": stage.api_name,
                    "IsClosed": stage.is_closed,
                    "IsWon": stage.is_won,
                    "IsActive": stage.is_active,
                    "DefaultProbability": float(stage.probability),
                },
            )

    def update_record(self, sobject: str, crm_id: str, fields: Mapping[str, Any]) -> None:
        """Change a record as a user in the org would (bumps SystemModstamp); KeyError if unknown."""
        with self.lock:
            row = self.objects[sobject][crm_id]
            values = {name: self._coerce(sobject, name, value) for name, value in fields.items()}
            if sobject == "Opportunity" and "StageName" in values:
                self._check_stage(values["StageName"])
            self._touch(sobject, row, values)

    def expire_sessions(self) -> None:
        """Invalidate every issued access token, as a session timeout or admin revoke would."""
        with self.lock:
            self.tokens.clear()

    def team_members(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(row) for row in self.objects.get("OpportunityTeamMember", {}).values()]

    def limit_info(self) -> str:
        with self.lock:
            return f"api-usage={self.api_used}/{self.daily_api_limit}"

    # ------------------------------------------------------------------ sessions and faults

    def issue_token(self) -> str:
        with self.lock:
            self.token_requests += 1
            token = "00D000000000001!" + secrets.token_urlsafe(24)
            self.tokens.add(token)
            return token

    def check_token(self, token: str | None) -> bool:
        with self.lock:
            return token is not None and token in self.tokens

    def revoke_token(self, token: str | None) -> None:
        with self.lock:
            self.tokens.discard(token or "")

    def take_fault(self, path: str, kinds: Iterable[FaultKind], *, explicit_only: bool = False) -> Fault | None:
        """Consume one use of the first fault of these kinds that applies to ``path``."""
        wanted = set(kinds)
        with self.lock:
            for fault in self.faults:
                if fault.kind not in wanted or fault.times <= 0:
                    continue
                if fault.path is None and explicit_only:
                    continue
                if fault.path is not None and fault.path not in path:
                    continue
                fault.times -= 1
                return fault
            return None

    def record_fault(self, ext_value: str | None) -> RecordError | None:
        """A scripted per-record rejection for this external id, if one is armed."""
        if ext_value is None:
            return None
        with self.lock:
            for fault in self.faults:
                if fault.kind is FaultKind.reject_record and fault.times > 0 and fault.match == ext_value:
                    fault.times -= 1
                    code = str(fault.extra.get("status_code", "FIELD_CUSTOM_VALIDATION_EXCEPTION"))
                    message = str(fault.extra.get("message", "Rejected by a validation rule"))
                    return RecordError(code, message, list(fault.extra.get("fields", [])))
            return None

    def count_call(self, path: str) -> bool:
        """Count one API request; False once the daily allocation is spent (REQUEST_LIMIT_EXCEEDED)."""
        with self.lock:
            self.calls.append(path)
            if self.api_used >= self.daily_api_limit:
                return False
            self.api_used += 1
            return True

    # ------------------------------------------------------------------ schema

    def describe(self, sobject: str) -> dict[str, Any]:
        with self.lock:
            specs = self._schema_of(sobject)
            visible = [(s, self._access(sobject, s.name)) for s in specs.values()]
            return {
                "name": sobject,
                "label": sobject,
                "custom": False,
                "createable": True,
                "updateable": True,
                "queryable": True,
                "fields": [
                    {
                        "name": s.name,
                        "label": s.name,
                        "type": s.type,
                        "createable": s.createable and access == "edit",
                        "updateable": s.updateable and access == "edit",
                        "nillable": s.nillable,
                        "externalId": s.external_id,
                        "unique": s.unique,
                        "custom": s.custom,
                        "referenceTo": [s.reference_to] if s.reference_to else [],
                        "length": s.length,
                    }
                    for s, access in visible
                    if access is not None  # a field without field-level security is absent from describe
                ],
            }

    def create_custom_field(self, full_name: str, metadata: Mapping[str, Any]) -> str:
        """Tooling API CustomField create; ``Opportunity.Foo__c`` style full name."""
        with self.lock:
            sobject, _, name = full_name.partition(".")
            if not name.endswith("__c"):
                raise RequestError(400, "INVALID_FIELD", "Custom field names must end with __c")
            specs = self._schema_of(sobject)
            if name in specs:
                raise RequestError(
                    400, "DUPLICATE_DEVELOPER_NAME", f"There is already a field named {name} on {sobject}."
                )
            ftype = {
                "Text": STRING,
                "LongTextArea": TEXTAREA,
                "TextArea": TEXTAREA,
                "Number": DOUBLE,
                "DateTime": DATETIME,
                "Date": DATE,
                "Email": EMAIL,
                "Checkbox": BOOLEAN,
                "Url": URL,
                "Lookup": REFERENCE,
            }.get(str(metadata.get("type")))
            if ftype is None:
                raise RequestError(400, "FIELD_INTEGRITY_EXCEPTION", "Unsupported custom field type")
            target = metadata.get("referenceTo")
            if ftype == REFERENCE and (target not in self.schema or not metadata.get("relationshipName")):
                # A lookup names an existing object and a relationship name (CustomField metadata).
                raise RequestError(
                    400, "FIELD_INTEGRITY_EXCEPTION", "A lookup needs referenceTo (an object) and relationshipName"
                )
            self._add_custom_field(
                sobject,
                name,
                ftype,
                ext=bool(metadata.get("externalId")),
                unique=bool(metadata.get("unique")),
                length=int(metadata.get("length") or _TEXT_LENGTHS.get(ftype, 0)),
                reference_to=str(target) if ftype == REFERENCE else None,
            )
            self.fls_controlled.add((sobject, name))  # the Tooling API grants nobody access
            return self._new_id("CustomField")

    def _add_custom_field(
        self,
        sobject: str,
        name: str,
        ftype: str,
        *,
        ext: bool,
        unique: bool | None = None,
        length: int | None = None,
        reference_to: str | None = None,
    ) -> None:
        self.schema[sobject][name] = FieldSpec(
            name,
            ftype,
            external_id=ext,
            unique=ext if unique is None else unique,
            custom=True,
            length=_TEXT_LENGTHS.get(ftype, 0) if length is None else length,
            # a lookup seeded at reset points at its own object (the duplicate-of lookup)
            reference_to=(reference_to or sobject) if ftype == REFERENCE else None,
        )

    def _access(self, sobject: str, name: str) -> str | None:
        """The integration user's access to a field: "edit", "read" or None (invisible)."""
        if (sobject, name) not in self.fls_controlled:
            return "edit"
        assigned = {
            row["PermissionSetId"]
            for row in self.objects["PermissionSetAssignment"].values()
            if row["AssigneeId"] == self.integration_user_id
        }
        access = None
        for fp in self.objects["FieldPermissions"].values():
            if fp["ParentId"] in assigned and fp["Field"] == f"{sobject}.{name}":
                if fp.get("PermissionsEdit"):
                    return "edit"
                if fp.get("PermissionsRead"):
                    access = "read"
        return access

    def create_record(self, sobject: str, body: Any) -> str:
        """``POST sobjects/{sobject}``: one record; per-record problems answer 400 with the error array."""
        if not isinstance(body, dict):
            raise RequestError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        with self.lock:
            self._check_record_shape(sobject, {"attributes": {"type": sobject}, **body})
            return self._create_one(sobject, _fields_of(body))

    def _schema_of(self, sobject: str) -> dict[str, FieldSpec]:
        specs = self.schema.get(sobject)
        if specs is None:
            raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
        return specs

    def enable_team_selling(self) -> None:
        """What an admin's Setup > Opportunity Team Settings does: OpportunityTeamMember starts to exist."""
        with self.lock:
            self.team_selling = True
            self.schema["OpportunityTeamMember"] = _standard_schema()["OpportunityTeamMember"]
            self.objects.setdefault("OpportunityTeamMember", {})

    # ------------------------------------------------------------------ writes

    def collection_upsert(self, sobject: str, ext_field: str, body: Any) -> list[dict[str, Any]]:
        """``PATCH composite/sobjects/{sobject}/{ext_field}``: per-record results in input order."""
        records, all_or_none = self._collection_body(body)
        with self.lock:
            spec = self._schema_of(sobject).get(ext_field)
            if spec is None or not spec.external_id:
                raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
            for rec in records:
                self._check_record_shape(sobject, rec)
            values = [rec.get(ext_field) for rec in records]
            dupes = {v for v in values if v is not None and values.count(v) > 1}
            snapshot = copy.deepcopy(self.objects) if all_or_none else None
            results: list[dict[str, Any]] = []
            for rec, value in zip(records, values, strict=True):
                try:
                    if value in dupes:
                        raise RecordError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [])
                    crm_id, created = self._upsert_one(sobject, ext_field, rec)
                    results.append({"id": crm_id, "success": True, "errors": [], "created": created})
                except RecordError as err:
                    results.append({"success": False, "errors": [err.as_json()]})
            return self._finish_collection(results, snapshot)

    def collection_create(self, body: Any) -> list[dict[str, Any]]:
        """``POST composite/sobjects``: creates of mixed types, per-record results in input order."""
        return self._mixed_collection(body, lambda sobject, fields: self._create_one(sobject, fields))

    def collection_update(self, body: Any) -> list[dict[str, Any]]:
        """``PATCH composite/sobjects``: updates by Id of mixed types, per-record results in input order
        (sObject Collections, API 42.0+: "Update Multiple Records"). A record without an Id is MISSING_ARGUMENT
        ("Id not specified in an update call"); an Id no longer there is ENTITY_IS_DELETED."""

        def update(sobject: str, fields: dict[str, Any]) -> str:
            record_id = fields.pop("Id", None)
            if not record_id:
                raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", [])
            row = self.objects[sobject].get(str(record_id))
            if row is None:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])
            self._update_one(sobject, row, fields)
            return str(record_id)

        return self._mixed_collection(body, update)

    def _mixed_collection(self, body: Any, write: Callable[[str, dict[str, Any]], str]) -> list[dict[str, Any]]:
        """Records of any types (each names its own), checked whole first, then written one by one."""
        records, all_or_none = self._collection_body(body)
        with self.lock:
            types = [self._record_type(rec) for rec in records]
            for sobject, rec in zip(types, records, strict=True):
                self._check_record_shape(sobject, rec)
            snapshot = copy.deepcopy(self.objects) if all_or_none else None
            results: list[dict[str, Any]] = []
            for sobject, rec in zip(types, records, strict=True):
                try:
                    results.append({"id": write(sobject, _fields_of(rec)), "success": True, "errors": []})
                except RecordError as err:
                    results.append({"success": False, "errors": [err.as_json()]})
            return self._finish_collection(results, snapshot)

    def _finish_collection(
        self, results: list[dict[str, Any]], snapshot: dict[str, dict[str, dict[str, Any]]] | None
    ) -> list[dict[str, Any]]:
        if snapshot is not None and any(not r["success"] for r in results):
            self.objects = snapshot
            rolled_back = RecordError(
                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not all records were valid and the request was using AllOrNone header",
            ).as_json()
            results = [r if not r["success"] else {"success": False, "errors": [rolled_back]} for r in results]
        return results

    def _collection_body(self, body: Any) -> tuple[list[dict[str, Any]], bool]:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise RequestError(400, "JSON_PARSER_ERROR", "The request body must hold a records array")
        records = body["records"]
        if len(records) > MAX_COLLECTION_RECORDS:
            raise RequestError(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        if not all(isinstance(r, dict) for r in records):
            raise RequestError(400, "JSON_PARSER_ERROR", "Each record must be an object")
        return records, bool(body.get("allOrNone", False))

    def _record_type(self, rec: Mapping[str, Any]) -> str:
        attrs = rec.get("attributes")
        if not isinstance(attrs, dict) or not isinstance(attrs.get("type"), str):
            raise RequestError(400, "INVALID_TYPE", "Each record in the collection needs attributes.type")
        return str(attrs["type"])

    def _check_record_shape(self, sobject: str, rec: Mapping[str, Any]) -> None:
        # Unknown fields fail the whole request, as the real JSON deserializer does.
        if self._record_type(rec) != sobject:
            raise RequestError(400, "INVALID_TYPE", f"Records must be of type {sobject}")
        if sobject not in self.schema:
            raise RequestError(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        specs = self._schema_of(sobject)
        for name in _fields_of(rec):
            if name not in specs or self._access(sobject, name) is None:
                raise RequestError(
                    400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [name]
                )

    def _upsert_one(self, sobject: str, ext_field: str, rec: Mapping[str, Any]) -> tuple[str, bool]:
        value = rec.get(ext_field)
        fields = _fields_of(rec)
        if value is None or value == "":
            raise RecordError("MISSING_ARGUMENT", f"{ext_field} not specified", [ext_field])
        existing = self._find_by(sobject, ext_field, value)
        if existing is None:
            return self._create_one(sobject, fields), True
        self._update_one(sobject, existing, fields)
        return str(existing["Id"]), False

    def _create_one(self, sobject: str, raw: Mapping[str, Any]) -> str:
        specs = self._schema_of(sobject)
        fault = self.record_fault(_ext_value(raw, self.external_id_field))
        if fault is not None:
            raise fault
        if sobject in _PERMISSION_OBJECTS and not self.can_manage_permissions:
            raise RecordError("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on cross-reference id", [])
        values: dict[str, Any] = {}
        for name, value in raw.items():
            spec = specs[name]
            if not spec.createable or self._access(sobject, name) != "edit":
                raise RecordError("INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {name}.", [name])
            values[name] = self._coerce(sobject, name, value)
        missing = [name for name in _REQUIRED_ON_CREATE.get(sobject, ()) if values.get(name) in (None, "")]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
        self._check_references(sobject, values)
        if sobject == "Opportunity":
            self._check_stage(values["StageName"])
            values.setdefault("OwnerId", self.integration_user_id)
        if sobject == "OpportunityTeamMember":
            # "If you attempt to create this object and it matches an existing record, the system updates
            # any modified fields and returns the existing record." (object reference, crm-apis.md b6)
            for row in self.objects[sobject].values():
                if row["OpportunityId"] == values["OpportunityId"] and row["UserId"] == values["UserId"]:
                    self._update_one(
                        sobject, row, {k: v for k, v in raw.items() if k not in ("OpportunityId", "UserId")}
                    )
                    return str(row["Id"])
        for name, value in values.items():
            spec = specs[name]
            if spec.unique and value is not None:
                other = self._find_by(sobject, name, value)
                if other is not None:
                    raise RecordError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {name} duplicates value on record with id: {other['Id']}",
                        [],
                    )
        return self._insert_row(sobject, values)

    def _update_one(self, sobject: str, row: dict[str, Any], raw: Mapping[str, Any]) -> None:
        specs = self._schema_of(sobject)
        fault = self.record_fault(_ext_value(row, self.external_id_field))
        if fault is not None:
            raise fault
        values: dict[str, Any] = {}
        for name, value in raw.items():
            spec = specs[name]
            if not spec.updateable or self._access(sobject, name) != "edit":
                raise RecordError("INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {name}.", [name])
            values[name] = self._coerce(sobject, name, value)
        for name in _REQUIRED_ON_CREATE.get(sobject, ()):
            if name in values and values[name] in (None, ""):
                raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name])
        self._check_references(sobject, values)
        if sobject == "Opportunity" and "StageName" in values:
            self._check_stage(values["StageName"])
        self._touch(sobject, row, values)

    def _check_references(self, sobject: str, values: Mapping[str, Any]) -> None:
        specs = self.schema[sobject]
        for name, value in values.items():
            target = specs[name].reference_to
            if target and value is not None and value not in self.objects[target]:
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {name}", [name])
            if target == "User" and value is not None and not self.objects["User"][value].get("IsActive", True):
                # Owning or joining a record as an inactive user: "INACTIVE_OWNER_OR_USER, operation performed
                # with inactive user" (a real DmlException quoted in SalesforceLabs/Milestones-PM#26).
                raise RecordError("INACTIVE_OWNER_OR_USER", "operation performed with inactive user", [])

    def _check_stage(self, stage: Any) -> None:
        known = self.stages.get(str(stage))
        if known is None or not known.is_active:
            raise RecordError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                "Stage: bad value for restricted picklist field",
                ["StageName"],
            )

    def _coerce(self, sobject: str, name: str, value: Any) -> Any:
        spec = self.schema[sobject][name]
        if value is None:
            return None
        try:
            if spec.type in (DOUBLE, CURRENCY):
                if isinstance(value, bool):
                    raise ValueError(name)
                return float(value)
            if spec.type == DATETIME:
                return value if isinstance(value, datetime) else parse_datetime(str(value))
            if spec.type == DATE:
                return value if isinstance(value, date) else date.fromisoformat(str(value))
            if spec.type == BOOLEAN:
                if isinstance(value, str):
                    return value.lower() == "true"
                return bool(value)
        except ValueError as exc:
            raise RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{name}: value not of required type", [name]) from exc
        if not isinstance(value, str | int | float | bool):
            raise RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{name}: value not of required type", [name])
        if isinstance(value, str) and spec.length and len(value) > spec.length:
            # StatusCode STRING_TOO_LONG (SOAP/REST StatusCode enum); the message quotes the value, so adapters
            # must never store it.
            raise RecordError(
                "STRING_TOO_LONG", f"{name}: data value too large: {value[:40]} (max length={spec.length})", [name]
            )
        if spec.type == EMAIL and isinstance(value, str) and value and not _EMAIL.fullmatch(value):
            # StatusCode INVALID_EMAIL_ADDRESS ("Email: invalid email address: ...").
            raise RecordError("INVALID_EMAIL_ADDRESS", f"{name}: invalid email address: {value}", [name])
        return value

    def _find_by(self, sobject: str, name: str, value: Any) -> dict[str, Any] | None:
        for row in self.objects[sobject].values():
            if row.get(name) == value:
                return row
        return None

    def _insert_row(self, sobject: str, values: Mapping[str, Any]) -> str:
        crm_id = self._new_id(sobject)
        stamp = self._tick()
        row: dict[str, Any] = dict.fromkeys(self.schema[sobject])
        row.update(values)
        row.update({"Id": crm_id, "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp})
        self.objects[sobject][crm_id] = row
        if sobject == "Opportunity":
            self._record_history(row)
        return crm_id

    def _record_history(self, row: Mapping[str, Any]) -> None:
        """An OpportunityHistory row, as the org writes on create and on a change of stage, amount or close date."""
        self._insert_row(
            "OpportunityHistory",
            {
                "OpportunityId": row["Id"],
                "StageName": row.get("StageName"),
                "Amount": row.get("Amount"),
                "CloseDate": row.get("CloseDate"),
            },
        )

    def _touch(self, sobject: str, row: dict[str, Any], values: Mapping[str, Any]) -> None:
        tracked = sobject == "Opportunity" and any(
            k in values and values[k] != row.get(k) for k in ("StageName", "Amount", "CloseDate")
        )
        row.update(values)
        row["SystemModstamp"] = row["LastModifiedDate"] = self._tick()
        if tracked:
            self._record_history(row)

    def _new_id(self, sobject: str) -> str:
        return f"{ID_PREFIXES[sobject]}{next(self._ids):012d}AAA"

    def _tick(self) -> datetime:
        # Strictly increasing, millisecond-precise stamps: incremental pulls by SystemModstamp are exact.
        now = datetime.now(UTC).replace(microsecond=datetime.now(UTC).microsecond // 1000 * 1000)
        if now <= self._last_stamp:
            now = self._last_stamp + timedelta(milliseconds=1)
        self._last_stamp = now
        return now

    # ------------------------------------------------------------------ reads

    def _with_derived(self, sobject: str, row: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(row)
        if sobject == "Opportunity":
            stage = self.stages.get(str(row.get("StageName")))
            out["IsClosed"] = bool(stage and stage.is_closed)
            out["IsWon"] = bool(stage and stage.is_won)
            out["Probability"] = float(stage.probability) if stage else None
        return out

    def _resolve(self, sobject: str, row: Mapping[str, Any], path: str) -> Any:
        head, _, rest = path.partition(".")
        if not rest:
            return row.get(head)
        rel = RELATIONSHIPS.get(head)
        if rel is None or rel[0] not in self.schema[sobject]:
            raise SoqlError(f"No such relation '{head}' on entity '{sobject}'")
        ref = row.get(rel[0])
        target = self.objects[rel[1]].get(str(ref)) if ref else None
        if target is None:
            return None
        return self._resolve(rel[1], self._with_derived(rel[1], target), rest)

    def _check_field_path(self, sobject: str, path: str) -> None:
        head, _, rest = path.partition(".")
        if not rest:
            if (head not in self.schema[sobject] or self._access(sobject, head) is None) and not (
                sobject == "Opportunity" and head in ("IsClosed", "IsWon", "Probability")
            ):
                raise RequestError(400, "INVALID_FIELD", f"No such column '{head}' on entity '{sobject}'.")
            return
        rel = RELATIONSHIPS.get(head)
        if rel is None or rel[0] not in self.schema[sobject]:
            raise RequestError(400, "INVALID_FIELD", f"Didn't understand relationship '{head}'.")
        self._check_field_path(rel[1], rest)

    def query(self, soql: str, api_version: str) -> dict[str, Any]:
        """Run a query; first page of ``query_page_size`` records plus ``nextRecordsUrl``."""
        try:
            parsed = parse_soql(soql)
        except SoqlError as exc:
            raise RequestError(400, "MALFORMED_QUERY", str(exc)) from exc
        with self.lock:
            if parsed.sobject not in self.schema:
                raise RequestError(400, "INVALID_TYPE", f"sObject type '{parsed.sobject}' is not supported.")
            for path in (*parsed.fields, *(c.field for c in parsed.where)):
                self._check_field_path(parsed.sobject, path)
            if parsed.order_by:
                self._check_field_path(parsed.sobject, parsed.order_by)
            try:
                rows = [self._with_derived(parsed.sobject, r) for r in self.objects[parsed.sobject].values()]
                rows = [
                    r for r in rows if all(matches(self._resolve(parsed.sobject, r, c.field), c) for c in parsed.where)
                ]
                if parsed.order_by:
                    key = parsed.order_by
                    # Nulls sort first ascending, as in SOQL's default NULLS FIRST.
                    rows.sort(
                        key=lambda r: (
                            self._resolve(parsed.sobject, r, key) is not None,
                            self._resolve(parsed.sobject, r, key) or 0,
                        ),
                        reverse=parsed.descending,
                    )
            except SoqlError as exc:
                raise RequestError(400, "MALFORMED_QUERY", str(exc)) from exc
            if parsed.limit is not None:
                rows = rows[: parsed.limit]
            rendered = [self._render(parsed.sobject, r, parsed.fields, api_version) for r in rows]
            return self._page(rendered, 0, api_version, None)

    def query_more(self, locator: str, api_version: str) -> dict[str, Any]:
        cursor, _, offset = locator.rpartition("-")
        with self.lock:
            stored = self.query_cursors.get(cursor)
            if stored is None or not offset.isdigit():
                raise RequestError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return self._page(stored[1], int(offset), api_version, cursor)

    def _page(self, rows: list[dict[str, Any]], offset: int, api_version: str, cursor: str | None) -> dict[str, Any]:
        page = rows[offset : offset + self.query_page_size]
        body: dict[str, Any] = {"totalSize": len(rows), "done": True, "records": page}
        if offset + self.query_page_size < len(rows):
            if cursor is None:
                cursor = self._new_id("QueryLocator")[:15]
                self.query_cursors[cursor] = (api_version, rows)
            body["done"] = False
            body["nextRecordsUrl"] = f"/services/data/v{api_version}/query/{cursor}-{offset + self.query_page_size}"
        return body

    def _render(self, sobject: str, row: Mapping[str, Any], fields: Iterable[str], api_version: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{api_version}/sobjects/{sobject}/{row['Id']}",
            }
        }
        for path in fields:
            head, _, rest = path.partition(".")
            if not rest:
                out[head] = to_json_value(row.get(head))
                continue
            ref_field, target = RELATIONSHIPS[head]
            ref = row.get(ref_field)
            target_row = self.objects[target].get(str(ref)) if ref else None
            if target_row is None:
                out[head] = None
                continue
            nested = out.get(head) or {}
            rendered = self._render(target, self._with_derived(target, target_row), [rest], api_version)
            nested.update(rendered)
            out[head] = nested
        return out

    # ------------------------------------------------------------------ Bulk API 2.0 ingest

    def create_job(self, body: Any, api_version: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RequestError(400, "JSON_PARSER_ERROR", "Invalid job body")
        operation = body.get("operation")
        sobject = str(body.get("object"))
        with self.lock:
            self._schema_of(sobject)
            if operation not in ("insert", "upsert", "update"):
                raise RequestError(400, "FeatureNotEnabled", f"Operation {operation} is not supported")
            ext = body.get("externalIdFieldName")
            if operation == "upsert":
                spec = self.schema[sobject].get(str(ext))
                if spec is None or not spec.external_id:
                    raise RequestError(400, "INVALIDJOB", f"InvalidJob : Field name not found : {ext}")
            if body.get("contentType", "CSV") != "CSV":
                raise RequestError(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
            job = BulkJob(
                id=self._new_id("Job"),
                object=sobject,
                operation=str(operation),
                external_id_field=str(ext) if ext else None,
                line_ending=str(body.get("lineEnding", "LF")),
                column_delimiter=str(body.get("columnDelimiter", "COMMA")),
                api_version=api_version,
                created=self._tick(),
            )
            self.jobs[job.id] = job
            return job.info()

    def job(self, job_id: str) -> BulkJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def upload_job_data(self, job_id: str, data: str) -> None:
        with self.lock:
            job = self.job(job_id)
            if job.state != "Open":
                raise RequestError(409, "INVALIDJOBSTATE", f"Job is not open for uploads, state: {job.state}")
            job.data.append(data)

    def set_job_state(self, job_id: str, state: str) -> dict[str, Any]:
        with self.lock:
            job = self.job(job_id)
            if state == "Aborted":
                if job.state in ("JobComplete", "Failed"):
                    raise RequestError(400, "INVALIDJOBSTATE", "Job is already finished")
                job.state = "Aborted"
            elif state == "UploadComplete":
                if job.state != "Open":
                    raise RequestError(400, "INVALIDJOBSTATE", f"Job is not open, state: {job.state}")
                job.state = "UploadComplete"
                self._process_job(job)
            else:
                raise RequestError(400, "INVALIDJOBSTATE", f"Unsupported state {state}")
            info = job.info()
            info["state"] = state
            return info

    def job_info(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            job = self.job(job_id)
            if job.state in ("UploadComplete", "InProgress") and job.polls_left > 0:
                # The job is already processed; report it in progress for a few polls so clients poll.
                job.polls_left -= 1
                job.state = "InProgress"
            elif job.state in ("UploadComplete", "InProgress"):
                job.state = "JobComplete"
            return job.info()

    def job_results(self, job_id: str, kind: str) -> str:
        with self.lock:
            job = self.job(job_id)
            if job.state != "JobComplete":
                raise RequestError(400, "INVALIDJOBSTATE", "Results are available once the job completes")
            out = io.StringIO()
            if kind == "successfulResults":
                header = ["sf__Id", "sf__Created", *job.columns]
                rows = job.successful
            elif kind == "failedResults":
                header = ["sf__Id", "sf__Error", *job.columns]
                rows = job.failed
            else:
                header, rows = list(job.columns), []
            writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
            return out.getvalue()

    def _process_job(self, job: BulkJob) -> None:
        delimiter = _DELIMITERS.get(job.column_delimiter, ",")
        job.polls_left = self.bulk_polls_in_progress
        for chunk in job.data:
            reader = csv.DictReader(io.StringIO(chunk, newline=""), delimiter=delimiter)
            if not job.columns:
                job.columns = list(reader.fieldnames or [])
            for csv_row in reader:
                raw: dict[str, Any] = {}
                for name, value in csv_row.items():
                    if value == "":
                        continue  # Bulk API: an empty cell leaves the field unchanged; #N/A sets null.
                    raw[name] = None if value == "#N/A" else value
                try:
                    unknown = [
                        n for n in raw if n not in self.schema[job.object] or (n == "Id" and job.operation != "update")
                    ]
                    if unknown:
                        raise RecordError("INVALID_FIELD", f"No such column '{unknown[0]}' on entity", unknown)
                    if job.operation == "insert":
                        crm_id, created = self._create_one(job.object, raw), True
                    elif job.operation == "upsert":
                        rec = dict(raw)
                        rec["attributes"] = {"type": job.object}
                        crm_id, created = self._upsert_one(job.object, str(job.external_id_field), rec)
                    else:
                        row = self.objects[job.object].get(str(raw.pop("Id", "")))
                        if row is None:
                            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])
                        self._update_one(job.object, row, raw)
                        crm_id, created = str(row["Id"]), False
                    job.successful.append({"sf__Id": crm_id, "sf__Created": "true" if created else "false", **csv_row})
                except RecordError as err:
                    fields = ",".join(err.fields)
                    job.failed.append(
                        {"sf__Id": "", "sf__Error": f"{err.status_code}:{err.message}:{fields} --", **csv_row}
                    )


_PERMISSION_OBJECTS = frozenset({"PermissionSet", "FieldPermissions", "PermissionSetAssignment"})
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Text lengths as describe reports them for fields the sandbox or crm setup creates.
_TEXT_LENGTHS = {STRING: 255, EMAIL: 80, URL: 255, TEXTAREA: 131_072, PICKLIST: 255}

_REQUIRED_ON_CREATE: dict[str, tuple[str, ...]] = {
    "Opportunity": ("Name", "StageName", "CloseDate"),
    "Account": ("Name",),
    "OpportunityTeamMember": ("OpportunityId", "UserId"),
}


def _fields_of(rec: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k != "attributes"}


def _ext_value(rec: Mapping[str, Any], ext_field: str) -> str | None:
    value = rec.get(ext_field)
    return None if value is None else str(value)


def _standard_schema() -> dict[str, dict[str, FieldSpec]]:
    def system(name: str, ftype: str = DATETIME) -> FieldSpec:
        return FieldSpec(name, ftype, createable=False, updateable=False)

    def fields(*specs: FieldSpec) -> dict[str, FieldSpec]:
        base = [system("Id", ID), system("CreatedDate"), system("LastModifiedDate"), system("SystemModstamp")]
        return {s.name: s for s in (*base, *specs)}

    return {
        "User": fields(
            FieldSpec("Email", EMAIL, nillable=False, length=80),
            FieldSpec("Username", STRING, nillable=False, unique=True, length=80),
            FieldSpec("Name", STRING),
            FieldSpec("IsActive", BOOLEAN),
        ),
        "Account": fields(
            FieldSpec("Name", STRING, nillable=False, length=255),
            FieldSpec("Website", URL, length=255),
            FieldSpec("BillingCountry", STRING),
            FieldSpec("OwnerId", REFERENCE, reference_to="User"),
        ),
        "Opportunity": fields(
            FieldSpec("Name", STRING, nillable=False, length=120),
            FieldSpec("StageName", PICKLIST, nillable=False, length=255),
            FieldSpec("CloseDate", DATE, nillable=False),
            FieldSpec("Amount", CURRENCY),
            FieldSpec("AccountId", REFERENCE, reference_to="Account"),
            FieldSpec("OwnerId", REFERENCE, reference_to="User"),
            FieldSpec("Description", TEXTAREA, length=32_000),
            FieldSpec("NextStep", STRING, length=255),
            FieldSpec("IsClosed", BOOLEAN, createable=False, updateable=False),
            FieldSpec("IsWon", BOOLEAN, createable=False, updateable=False),
            FieldSpec("Probability", DOUBLE, createable=False, updateable=False),
        ),
        "OpportunityTeamMember": fields(
            FieldSpec("OpportunityId", REFERENCE, updateable=False, nillable=False, reference_to="Opportunity"),
            FieldSpec("UserId", REFERENCE, updateable=False, nillable=False, reference_to="User"),
            FieldSpec("TeamMemberRole", PICKLIST),
            FieldSpec("OpportunityAccessLevel", PICKLIST),
        ),
        # Setup objects the integration needs to grant itself field-level security (crm setup).
        "PermissionSet": fields(
            FieldSpec("Name", STRING, nillable=False, unique=True, length=80),
            FieldSpec("Label", STRING, nillable=False, length=80),
        ),
        "FieldPermissions": fields(
            FieldSpec("ParentId", REFERENCE, nillable=False, reference_to="PermissionSet"),
            FieldSpec("SobjectType", STRING, nillable=False, length=40),
            FieldSpec("Field", STRING, nillable=False, length=255),
            FieldSpec("PermissionsRead", BOOLEAN),
            FieldSpec("PermissionsEdit", BOOLEAN),
        ),
        "PermissionSetAssignment": fields(
            FieldSpec("AssigneeId", REFERENCE, nillable=False, reference_to="User"),
            FieldSpec("PermissionSetId", REFERENCE, nillable=False, reference_to="PermissionSet"),
        ),
        # Stage history, written by the org on every stage change ("Represents the stage history of an
        # opportunity": https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_objects_opportunityhistory.htm).
        "OpportunityHistory": fields(
            FieldSpec("OpportunityId", REFERENCE, createable=False, updateable=False, reference_to="Opportunity"),
            FieldSpec("StageName", PICKLIST, createable=False, updateable=False, length=255),
            FieldSpec("Amount", CURRENCY, createable=False, updateable=False),
            FieldSpec("CloseDate", DATE, createable=False, updateable=False),
        ),
        "Organization": fields(FieldSpec("DefaultCurrencyIsoCode", STRING, createable=False, updateable=False)),
        "OpportunityStage": fields(
            FieldSpec("ApiName", STRING),
            FieldSpec("MasterLabel", STRING),
            FieldSpec("IsClosed", BOOLEAN),
            FieldSpec("IsWon", BOOLEAN),
            FieldSpec("IsActive", BOOLEAN),
            FieldSpec("DefaultProbability", DOUBLE),
        ),
    }
