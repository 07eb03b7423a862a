"""In-memory state of the HubSpot sandbox: the portal's objects, its limits and the scripted faults.

Everything here is plain Python under one lock, so the FastAPI routes in ``hubspot.py`` stay thin and tests
can drive the same object directly (it implements ``SandboxControl``).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from integrations.sandbox.control import Fault, FaultKind, SandboxOpportunity

_AUTH_MISSING = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
DEALS = "0-3"
COMPANIES = "0-2"
DEAL_TO_COMPANY = 341  # unlabeled
DEAL_TO_COMPANY_PRIMARY = 5
VALID_DEAL_TO_COMPANY = frozenset({DEAL_TO_COMPANY, DEAL_TO_COMPANY_PRIMARY})


@dataclass
class HubSpotSandboxConfig:
    """Knobs of the sandbox portal. Defaults follow the Professional tier; unverified facts are switchable."""

    tokens: tuple[str, ...] = ("sandbox-token",)
    portal_id: int = 4400001
    rate_limit_per_window: int = 190  # private app burst budget per window (Pro/Enterprise)
    rate_limit_window_seconds: float = 10.0
    daily_limit: int = 625_000
    search_per_second: int = 5  # search has its own bucket and is exempt from the ten-secondly one
    batch_limit: int = 100
    association_batch_limit: int = 100  # UNVERIFIED upstream; 100 is the conservative reading
    send_retry_after: bool = False  # UNVERIFIED whether HubSpot sends Retry-After on 429
    # "It may take a few moments for newly created or updated CRM objects to appear in search results" (search
    # guide, crm-apis.md a7): a change is invisible to search for this long. Tests may set 0 where lag is beside
    # the point; the newcomer's sandbox keeps it.
    search_index_lag_seconds: float = 3.0
    search_max_results: int = 10_000
    # UNVERIFIED how batch/create reports a unique-value conflict: a whole-batch 409, or per input in a 207.
    create_conflict_mode: Literal["batch", "per_record"] = "batch"
    shuffle_batch_results: bool = True  # HubSpot does not promise result order; neither do we
    default_stall_seconds: float = 30.0  # timeout_after_commit stall when the fault gives no `seconds`
    opportunity_id_property: str = "signal_pipeline_opportunity_id"
    max_unique_properties: int = 10
    # The portal's company currency and its additional currencies; deal_currency_code must be one of them
    # (400 INVALID_OPTION since 2023-07-31: https://developers.hubspot.com/changelog/deal-currenct-code-validation).
    currencies: tuple[str, ...] = ("EUR", "USD", "GBP")
    # "When the value is added through the CRM, the character limit is 65,536 characters" for text properties
    # (https://knowledge.hubspot.com/contacts/property-field-types-in-hubspot). The error code for a longer
    # value is UNVERIFIED; the sandbox answers in the documented property-validation shape.
    max_text_value_chars: int = 65_536


class HubSpotHTTPError(Exception):
    """An HTTP error answer in HubSpot's wire shape, raised by state operations and rendered by the app."""

    def __init__(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {body.get('category')}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(category: str, message: str, **extra: Any) -> dict[str, Any]:
    """HubSpot's error envelope (``status``, ``message``, ``correlationId``, ``category`` plus extras)."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def record_error(category: str, message: str, *, context: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """One entry of a 207 ``errors`` array in the shape HubSpot really sends: status, category, message,
    context. No ``links`` and no ``errors`` list, although hubspot-api-client 12's StandardError model requires
    ``links`` (so the SDK in strict mode cannot read a real 207; the adapter reads it itself). Real sample: the
    207 of ``batch/create`` recorded in hotgluexyz/target-hubspot-v4
    ``__smoke-tests__/batch_company_partial_error_test/fixtures/vcr.yaml``."""
    return {"status": "error", "category": category, "message": message, "context": context or {}}


def property_error_message(failures: list[dict[str, Any]]) -> str:
    """HubSpot's "Property values were not valid: [...]" message, with the per-property results embedded as
    JSON (``isValid``, ``message``, ``error`` = the code, ``name`` = the property); the same sample as above and
    https://developers.hubspot.com/docs/api-reference/error-handling."""
    return "Property values were not valid: " + json.dumps(failures, separators=(",", ":"))


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def parse_hs_datetime(value: str) -> float | None:
    """HubSpot accepts epoch milliseconds or ISO 8601 for datetime values."""
    v = value.strip()
    if not v:
        return None
    if v.lstrip("-").isdigit():
        return int(v) / 1000.0
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@dataclass
class PropertyDef:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    has_unique_value: bool = False
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    read_only: bool = False
    calculated: bool = False
    hubspot_defined: bool = True
    created_at: float = field(default_factory=time.time)

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": self.group_name,
            "description": self.description,
            "options": self.options,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "formField": not self.read_only,
            "calculated": self.calculated,
            "externalOptions": False,
            "hubspotDefined": self.hubspot_defined,
            "displayOrder": -1,
            "archived": False,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.created_at),
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
        }


@dataclass
class Stage:
    id: str
    label: str
    probability: float
    is_closed: bool
    display_order: int


@dataclass
class Pipeline:
    id: str
    label: str
    stages: list[Stage]
    display_order: int = 0


@dataclass
class Record:
    id: str
    properties: dict[str, str]
    created_at: float
    updated_at: float
    # every value a property has had, newest first: (value, epoch seconds, sourceType)
    history: dict[str, list[tuple[str, float, str]]] = field(default_factory=dict)


@dataclass
class Owner:
    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    archived: bool
    created_at: float
    updated_at: float

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "userIdIncludingInactive": self.user_id,
            "type": "PERSON",
            "archived": self.archived,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "teams": [],
        }


def default_pipelines() -> list[Pipeline]:
    """HubSpot's default sales pipeline, with its stage ids and probabilities."""
    return [
        Pipeline(
            id="default",
            label="Sales Pipeline",
            stages=[
                Stage("appointmentscheduled", "Appointment Scheduled", 0.2, False, 0),
                Stage("qualifiedtobuy", "Qualified To Buy", 0.4, False, 1),
                Stage("presentationscheduled", "Presentation Scheduled", 0.6, False, 2),
                Stage("decisionmakerboughtin", "Decision Maker Bought-In", 0.8, False, 3),
                Stage("contractsent", "Contract Sent", 0.9, False, 4),
                Stage("closedwon", "Closed Won", 1.0, True, 5),
                Stage("closedlost", "Closed Lost", 0.0, True, 6),
            ],
        )
    ]


def _builtin_deal_properties() -> dict[str, PropertyDef]:
    p = PropertyDef
    defs = [
        p("dealname", "Deal Name", "string", "text", "dealinformation"),
        p("dealstage", "Deal Stage", "enumeration", "radio", "dealinformation"),
        p("pipeline", "Pipeline", "enumeration", "select", "dealinformation"),
        p("amount", "Amount", "number", "number", "dealinformation"),
        p("deal_currency_code", "Currency", "enumeration", "select", "dealinformation"),
        p("closedate", "Close Date", "datetime", "date", "dealinformation"),
        p("description", "Deal Description", "string", "textarea", "dealinformation"),
        p("hubspot_owner_id", "Deal owner", "enumeration", "select", "dealinformation"),
        p("hs_all_collaborator_owner_ids", "Deal Collaborator", "enumeration", "checkbox", "dealinformation"),
        p("closed_lost_reason", "Closed Lost Reason", "string", "textarea", "dealinformation"),
        p("closed_won_reason", "Closed Won Reason", "string", "textarea", "dealinformation"),
        p("hs_object_id", "Record ID", "number", "number", "dealinformation", read_only=True),
        p("createdate", "Create Date", "datetime", "date", "dealinformation", read_only=True),
        p("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "dealinformation", read_only=True),
        p(
            "hs_is_closed",
            "Is Deal Closed?",
            "bool",
            "booleancheckbox",
            "dealinformation",
            read_only=True,
            calculated=True,
        ),
        p(
            "hs_is_closed_won",
            "Is Closed Won",
            "bool",
            "booleancheckbox",
            "dealinformation",
            read_only=True,
            calculated=True,
        ),
        p(
            "hs_deal_stage_probability",
            "Deal probability",
            "number",
            "number",
            "dealinformation",
            read_only=True,
            calculated=True,
        ),
    ]
    return {d.name: d for d in defs}


class _Limiter:
    """Sliding-window request counter, one per access token, like HubSpot's per-app burst bucket."""

    def __init__(self) -> None:
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def take(self, key: tuple[str, str], budget: int, window: float, now: float) -> tuple[bool, int, float]:
        """Record a hit if the budget allows; return (allowed, remaining, seconds until a slot frees)."""
        q = self._hits.setdefault(key, deque())
        while q and q[0] <= now - window:
            q.popleft()
        if len(q) >= budget:
            return False, 0, max(0.0, q[0] + window - now)
        q.append(now)
        return True, budget - len(q), 0.0

    def remaining(self, key: tuple[str, str], budget: int, window: float, now: float) -> int:
        q = self._hits.get(key, deque())
        return max(0, budget - sum(1 for t in q if t > now - window))

    def clear(self) -> None:
        self._hits.clear()


@dataclass(frozen=True)
class Admission:
    """Outcome of the per-request checks done before a handler runs."""

    error: HubSpotHTTPError | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_before: float = 0.0
    stall_after: float = 0.0


class HubSpotSandboxState:
    """The sandbox portal. Thread-safe: every public method takes the one lock."""

    def __init__(self, config: HubSpotSandboxConfig | None = None) -> None:
        self.config = config or HubSpotSandboxConfig()
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._limiter = _Limiter()
        self.expired_tokens: set[str] = set()
        self.webhook_events: list[dict[str, Any]] = []
        self._reset_data()

    # ---- lifecycle --------------------------------------------------------------------------------------

    def _reset_data(self) -> None:
        self.deal_properties: dict[str, PropertyDef] = _builtin_deal_properties()
        self.deal_groups: dict[str, dict[str, Any]] = {
            "dealinformation": {
                "name": "dealinformation",
                "label": "Deal information",
                "displayOrder": -1,
                "archived": False,
            },
        }
        self.pipelines: list[Pipeline] = default_pipelines()
        self.deals: dict[str, Record] = {}
        self.companies: dict[str, Record] = {}
        self.owners: dict[str, Owner] = {}
        self.associations: set[tuple[str, str, int]] = set()  # (deal id, company id, type id)
        self.unique_index: dict[tuple[str, str], str] = {}  # (property, value) -> deal id
        self.merged_into: dict[str, str] = {}  # a merged-away deal id -> the deal the merge created
        self._company_ts = 0.0
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, str]] = []
        self.expired_tokens.clear()
        self.webhook_events = []
        self._limiter.clear()
        self._daily = 0

    def reset(self) -> None:
        """Back to a pristine portal: no objects, no custom properties, no faults, empty rate windows."""
        with self.lock:
            self._reset_data()

    def _new_id(self, base: int) -> str:
        return str(base + next(self._ids))

    # ---- SandboxControl ----------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(replace(fault, kind=FaultKind(fault.kind)))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def seed_user(self, email: str, name: str | None = None) -> str:
        with self.lock:
            for o in self.owners.values():
                if o.email.lower() == email.lower():
                    return o.id
            first, _, last = (name or email.split("@")[0]).partition(" ")
            now = time.time()
            oid = self._new_id(70_000_000)
            self.owners[oid] = Owner(oid, email, first, last, int(oid) + 1_000_000, False, now, now)
            return oid

    def seed_account(self, name: str, domain: str | None = None, owner_email: str | None = None) -> str:
        with self.lock:
            props: dict[str, str] = {"name": name}
            if domain:
                props["domain"] = domain
            if owner_email:
                props["hubspot_owner_id"] = self.seed_user(owner_email)
            return self._create_company(props)

    def _company_clock(self) -> float:
        # Distinct millisecond timestamps per change keep incremental pulls deterministic in tests.
        self._company_ts = max(time.time(), self._company_ts + 0.001)
        return self._company_ts

    def _create_company(self, props: dict[str, str]) -> str:
        now = self._company_clock()
        cid = self._new_id(20_000_000_000)
        props = {**props, "hs_object_id": cid, "createdate": iso(now), "hs_lastmodifieddate": iso(now)}
        self.companies[cid] = Record(cid, props, now, now)
        return cid

    def update_company(self, company_id: str, **props: str) -> None:
        """Change a company as a user would; bumps hs_lastmodifieddate (drives incremental pulls)."""
        with self.lock:
            rec = self.companies[company_id]
            now = self._company_clock()
            rec.properties.update(props)
            rec.properties["hs_lastmodifieddate"] = iso(now)
            rec.updated_at = now

    def archive_owner(self, owner_id: str) -> None:
        with self.lock:
            self.owners[owner_id].archived = True
            self.owners[owner_id].updated_at = time.time()

    def expire_token(self, token: str) -> None:
        """Every later call with this token gets HubSpot's expired-token 401."""
        with self.lock:
            self.expired_tokens.add(token)

    def add_pipeline(self, pipeline: Pipeline) -> None:
        with self.lock:
            self.pipelines = [p for p in self.pipelines if p.id != pipeline.id] + [pipeline]

    def opportunities(self) -> list[SandboxOpportunity]:
        with self.lock:
            return [self._to_sandbox_opportunity(d) for d in self.deals.values()]

    def opportunity(self, crm_id: str) -> SandboxOpportunity | None:
        with self.lock:
            d = self.deals.get(crm_id)
            return self._to_sandbox_opportunity(d) if d else None

    def _to_sandbox_opportunity(self, d: Record) -> SandboxOpportunity:
        pairs = [(c, t) for (deal, c, t) in self.associations if deal == d.id]
        primary = [c for c, t in pairs if t == DEAL_TO_COMPANY_PRIMARY]
        companies = primary or sorted({c for c, _ in pairs})
        collab = tuple(x for x in d.properties.get("hs_all_collaborator_owner_ids", "").split(";") if x)
        return SandboxOpportunity(
            crm_id=d.id,
            opportunity_id=d.properties.get(self.config.opportunity_id_property),
            account_crm_id=companies[0] if companies else None,
            owner_crm_id=d.properties.get("hubspot_owner_id") or None,
            properties=dict(d.properties),
            collaborator_ids=collab,
        )

    def deal_companies(self, deal_id: str) -> set[tuple[str, int]]:
        with self.lock:
            return {(c, t) for (d, c, t) in self.associations if d == deal_id}

    def set_stage(self, crm_id: str, stage: str, amount: float | None = None) -> None:
        with self.lock:
            deal = self.deals[crm_id]
            pipeline = self._pipeline(deal.properties.get("pipeline", "default"))
            if pipeline is None or stage not in {s.id for s in pipeline.stages}:
                raise ValueError(f"stage {stage!r} is not in pipeline {deal.properties.get('pipeline')!r}")
            changes = {"dealstage": stage}
            if amount is not None:
                changes["amount"] = _num(amount)
            self._apply(deal, changes, source="CRM_UI")

    def set_deal_properties(self, crm_id: str, **props: str) -> None:
        """Edit a deal as a seller would (any property, no validation beyond existence)."""
        with self.lock:
            self._apply(self.deals[crm_id], dict(props), source="CRM_UI")

    def seed_deal(self, **props: str) -> str:
        """Create a deal as a seller would in HubSpot's UI (no validation); return its id."""
        with self.lock:
            return self._create_deal(dict(props)).id

    def delete_deal(self, crm_id: str) -> None:
        with self.lock:
            deal = self.deals.pop(crm_id)
            for name, value in deal.properties.items():
                self.unique_index.pop((name, value), None)
            self.associations = {a for a in self.associations if a[0] != crm_id}

    def requeue_webhook_events(self, events: list[dict[str, Any]]) -> None:
        """Events whose delivery failed go back in front, as HubSpot retries failed deliveries."""
        with self.lock:
            self.webhook_events = events + self.webhook_events

    def company_currency_wire(self) -> dict[str, Any]:
        """``GET /settings/v3/currencies/company-currency``: the currency of deals that name none
        (https://developers.hubspot.com/docs/api/settings/currencies)."""
        now = iso(time.time())
        return {"currencyCode": self.config.currencies[0], "visibleInUI": True, "createdAt": now, "updatedAt": now}

    def drain_webhook_events(self) -> list[dict[str, Any]]:
        """The deal.propertyChange events HubSpot would have delivered since the last drain."""
        with self.lock:
            events, self.webhook_events = self.webhook_events, []
            return events

    def call_count(self, path_prefix: str | None = None) -> int:
        with self.lock:
            return sum(1 for _, p in self.calls if path_prefix is None or p.startswith(path_prefix))

    # ---- per-request admission (auth, faults, limits) ----------------------------------------------------

    def admit(self, method: str, path: str, authorization: str | None) -> Admission:
        """Count the call and decide, before any work, whether it is refused, delayed or stalled."""
        with self.lock:
            self.calls.append((method, path))
            self._daily += 1
            token = authorization[7:].strip() if authorization and authorization.startswith("Bearer ") else None
            if self._take_fault(path, FaultKind.expired_session) or (token and token in self.expired_tokens):
                return Admission(
                    error=HubSpotHTTPError(
                        401,
                        error_body(
                            "EXPIRED_AUTHENTICATION",
                            "The OAuth token used to make this call expired 1 second(s) ago.",
                        ),
                    )
                )
            if token is None or token not in self.config.tokens:
                return Admission(
                    error=HubSpotHTTPError(
                        401,
                        error_body(
                            "INVALID_AUTHENTICATION",
                            _AUTH_MISSING,
                        ),
                    )
                )
            fault = self._take_fault(path, FaultKind.server_error)
            if fault:
                status = fault.status or 500
                headers = {"Retry-After": _num(fault.retry_after)} if fault.retry_after is not None else {}
                return Admission(
                    error=HubSpotHTTPError(
                        status,
                        error_body("INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE", "internal error"),
                        headers,
                    )
                )
            headers = self._limit_headers(token)
            fault = self._take_fault(path, FaultKind.rate_limit)
            if fault:
                if fault.retry_after is not None:
                    headers["Retry-After"] = _num(fault.retry_after)
                daily = fault.extra.get("policy") == "DAILY"
                return Admission(error=HubSpotHTTPError(429, _rate_body(daily, self.config.portal_id), headers))
            if self._daily > self.config.daily_limit:
                return Admission(error=HubSpotHTTPError(429, _rate_body(True, self.config.portal_id), headers))
            bucket = _bucket(path)
            if bucket is not None:
                budget, window = (
                    (self.config.search_per_second, 1.0)
                    if bucket == "search"
                    else (self.config.rate_limit_per_window, self.config.rate_limit_window_seconds)
                )
                ok, remaining, wait = self._limiter.take((token, bucket), budget, window, time.monotonic())
                if bucket == "search":
                    headers["X-HubSpot-RateLimit-Secondly-Remaining"] = str(remaining)
                if not ok:
                    if self.config.send_retry_after:
                        headers["Retry-After"] = f"{max(wait, 0.001):.3f}"
                    if bucket == "search":
                        body = error_body(
                            "RATE_LIMIT",
                            "You have reached your secondly limit.",
                            errorType="RATE_LIMIT",
                            policyName="SECONDLY",
                        )
                        return Admission(error=HubSpotHTTPError(429, body, headers))
                    return Admission(error=HubSpotHTTPError(429, _rate_body(False, self.config.portal_id), headers))
            headers["X-HubSpot-RateLimit-Remaining"] = self._limit_headers(token)["X-HubSpot-RateLimit-Remaining"]
            delay = 0.0
            fault = self._take_fault(path, FaultKind.latency)
            if fault:
                delay = fault.seconds
            stall = 0.0
            fault = self._take_fault(path, FaultKind.timeout_after_commit)
            if fault:
                stall = fault.seconds or self.config.default_stall_seconds
            return Admission(headers=headers, delay_before=delay, stall_after=stall)

    def _limit_headers(self, token: str) -> dict[str, str]:
        """The rate headers of every answer (usage guidelines, crm-apis.md a2; a real 207 carries
        ``x-hubspot-ratelimit-remaining`` counting down). Remaining is what the token's ten-secondly bucket
        has left after this call, also on calls exempt from that bucket, never a constant."""
        c = self.config
        remaining = self._limiter.remaining(
            (token, "ten_secondly"), c.rate_limit_per_window, c.rate_limit_window_seconds, time.monotonic()
        )
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(c.rate_limit_window_seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(c.rate_limit_per_window),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Daily": str(c.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, c.daily_limit - self._daily)),
            "X-HubSpot-RateLimit-Secondly": str(c.search_per_second),
        }

    def _take_fault(self, path: str, kind: FaultKind) -> Fault | None:
        for f in self.faults:
            if f.kind == kind and f.times > 0 and (f.path is None or f.path in path):
                f.times -= 1
                return f
        return None

    def _rejections(self, path: str, ids: Iterable[str]) -> dict[str, Fault]:
        """reject_record faults matching unique ids in this request; each fault is used once per request."""
        present = set(ids)
        out: dict[str, Fault] = {}
        for f in self.faults:
            if (
                f.kind == FaultKind.reject_record
                and f.times > 0
                and f.match in present
                and (f.path is None or f.path in path)
            ):
                f.times -= 1
                out[f.match] = f
        return out

    # ---- pipelines, properties, owners -------------------------------------------------------------------

    def _pipeline(self, pipeline_id: str) -> Pipeline | None:
        return next((p for p in self.pipelines if p.id == pipeline_id), None)

    def pipelines_wire(self) -> dict[str, Any]:
        with self.lock:
            now = iso(time.time())
            return {
                "results": [
                    {
                        "id": p.id,
                        "label": p.label,
                        "displayOrder": p.display_order,
                        "archived": False,
                        "createdAt": now,
                        "updatedAt": now,
                        "stages": [
                            {
                                "id": s.id,
                                "label": s.label,
                                "displayOrder": s.display_order,
                                "archived": False,
                                "createdAt": now,
                                "updatedAt": now,
                                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                                "metadata": {
                                    "isClosed": "true" if s.is_closed else "false",
                                    "probability": f"{s.probability:.1f}",
                                },
                            }
                            for s in p.stages
                        ],
                    }
                    for p in self.pipelines
                ]
            }

    def properties_wire(self) -> dict[str, Any]:
        with self.lock:
            return {"results": [p.to_wire() for p in self.deal_properties.values()]}

    def property_wire(self, name: str) -> dict[str, Any]:
        with self.lock:
            prop = self.deal_properties.get(name)
            if prop is None:
                raise HubSpotHTTPError(404, error_body("OBJECT_NOT_FOUND", f"Unable to find property {name}"))
            return prop.to_wire()

    def create_property(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
            if missing:
                raise HubSpotHTTPError(
                    400,
                    error_body(
                        "VALIDATION_ERROR",
                        f"Missing required fields: {missing}",
                        errors=[{"message": "Required", "code": "REQUIRED_FIELD", "context": {"field": missing}}],
                    ),
                )
            name = str(body["name"])
            if name in self.deal_properties:
                # UNVERIFIED upstream: the category/subCategory of "already exists".
                raise HubSpotHTTPError(
                    409,
                    error_body(
                        "OBJECT_ALREADY_EXISTS",
                        f"Property named '{name}' already exists.",
                        subCategory="PROPERTY_ALREADY_EXISTS",
                    ),
                )
            if body["groupName"] not in self.deal_groups:
                raise HubSpotHTTPError(
                    400, error_body("VALIDATION_ERROR", f"Property group {body['groupName']} does not exist")
                )
            unique = bool(body.get("hasUniqueValue", False))
            if (
                unique
                and sum(p.has_unique_value for p in self.deal_properties.values()) >= self.config.max_unique_properties
            ):
                raise HubSpotHTTPError(
                    400,
                    error_body("VALIDATION_ERROR", "You can have up to 10 unique ID properties per object"),
                )
            prop = PropertyDef(
                name=name,
                label=str(body["label"]),
                type=str(body["type"]),
                field_type=str(body["fieldType"]),
                group_name=str(body["groupName"]),
                has_unique_value=unique,
                description=str(body.get("description") or ""),
                options=list(body.get("options") or []),
                hubspot_defined=False,
            )
            self.deal_properties[name] = prop
            return prop.to_wire()

    def groups_wire(self) -> dict[str, Any]:
        with self.lock:
            return {"results": list(self.deal_groups.values())}

    def group_wire(self, name: str) -> dict[str, Any]:
        with self.lock:
            g = self.deal_groups.get(name)
            if g is None:
                raise HubSpotHTTPError(404, error_body("OBJECT_NOT_FOUND", f"Unable to find group {name}"))
            return g

    def create_group(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            name, label = body.get("name"), body.get("label")
            if not name or not label:
                raise HubSpotHTTPError(400, error_body("VALIDATION_ERROR", "name and label are required"))
            if name in self.deal_groups:
                raise HubSpotHTTPError(
                    409,
                    error_body(
                        "OBJECT_ALREADY_EXISTS",
                        f"Group named '{name}' already exists.",
                        subCategory="PROPERTY_GROUP_ALREADY_EXISTS",
                    ),
                )
            group = {
                "name": str(name),
                "label": str(label),
                "displayOrder": int(body.get("displayOrder", -1)),
                "archived": False,
            }
            self.deal_groups[str(name)] = group
            return group

    def owners_page(self, *, email: str | None, after: str | None, limit: int, archived: bool) -> dict[str, Any]:
        with self.lock:
            if limit < 1 or limit > 500:
                raise HubSpotHTTPError(400, error_body("VALIDATION_ERROR", "limit must be between 1 and 500"))
            owners = sorted((o for o in self.owners.values() if o.archived == archived), key=lambda o: int(o.id))
            if email:
                owners = [o for o in owners if o.email.lower() == email.lower()]
            return _page([o.to_wire() for o in owners], after, limit)

    # ---- companies ---------------------------------------------------------------------------------------

    def companies_page(self, *, after: str | None, limit: int, properties: list[str]) -> dict[str, Any]:
        with self.lock:
            if limit < 1 or limit > 100:
                raise HubSpotHTTPError(400, error_body("VALIDATION_ERROR", "limit must be between 1 and 100"))
            recs = sorted(self.companies.values(), key=lambda r: int(r.id))
            return _page([_object_wire(r, properties, _COMPANY_DEFAULT_PROPS) for r in recs], after, limit)

    def search_companies(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            limit = int(body.get("limit") or 10)
            after = int(body.get("after") or 0)
            if limit > 200:
                raise HubSpotHTTPError(400, error_body("VALIDATION_ERROR", "limit must be at most 200"))
            groups = body.get("filterGroups") or []
            if len(groups) > 5 or sum(len(g.get("filters") or []) for g in groups) > 25:
                raise HubSpotHTTPError(400, error_body("VALIDATION_ERROR", "too many filters"))
            if after + limit > self.config.search_max_results:
                raise HubSpotHTTPError(
                    400,
                    error_body(
                        "VALIDATION_ERROR",
                        f"Paging beyond {self.config.search_max_results} results is not allowed",
                    ),
                )
            now = time.time()
            recs = [
                r
                for r in self.companies.values()
                if self._indexed(r, now) and (not groups or any(_matches(r, g) for g in groups))
            ]
            recs.sort(key=lambda r: int(r.id))
            for sort in reversed(body.get("sorts") or []):
                prop, desc = _sort_spec(sort)
                recs.sort(key=_property_sort_key(prop), reverse=desc)
            props = list(body.get("properties") or [])
            page = recs[after : after + limit]
            out: dict[str, Any] = {
                "total": len(recs),
                "results": [_object_wire(r, props, _COMPANY_DEFAULT_PROPS) for r in page],
            }
            if after + limit < len(recs):
                out["paging"] = {"next": {"after": str(after + limit)}}
            return out

    def _indexed(self, rec: Record, now: float) -> bool:
        """Whether search sees the record's latest change yet. Each change takes its own share of the index lag
        (a stable per-change fraction), so changes do not surface in modification order: a cursor that trusts
        "newest seen" skips records that surface later."""
        lag = self.config.search_index_lag_seconds
        if lag <= 0:
            return True
        share = zlib.crc32(f"{rec.id}:{rec.updated_at:.6f}".encode()) % 1000 / 1000
        return now >= rec.updated_at + lag * share

    # ---- deals: writes -----------------------------------------------------------------------------------

    def _check_batch(self, inputs: Any, limit: int) -> list[dict[str, Any]]:
        if not isinstance(inputs, list):
            raise HubSpotHTTPError(400, error_body("VALIDATION_ERROR", "inputs is required"))
        if len(inputs) > limit:
            # UNVERIFIED exact text; shaped like HubSpot's other batch-size refusals.
            raise HubSpotHTTPError(
                400,
                error_body(
                    "VALIDATION_ERROR",
                    f"The maximum number of inputs supported in a batch request is {limit}. "
                    "Please reduce the number of items and try again",
                ),
            )
        return [i if isinstance(i, dict) else {} for i in inputs]

    def _validate_props(self, props: dict[str, Any], existing: Record | None) -> dict[str, Any] | None:
        """Return a 207 error entry for the first invalid value, else None."""
        merged = {**(existing.properties if existing else {}), **props}
        for name, value in props.items():
            prop = self.deal_properties.get(name)
            if prop is None:
                return _prop_error("PROPERTY_DOESNT_EXIST", name, f'Property "{name}" does not exist')
            if prop.read_only:
                return _prop_error("READ_ONLY_VALUE", name, f'Property "{name}" is read-only')
            if not isinstance(value, str):
                return _prop_error("INVALID_TYPE", name, f'Property "{name}" must be a string on the wire')
            if value == "":
                continue
            if prop.type == "number":
                try:
                    float(value)
                except ValueError:
                    return _prop_error("INVALID_FLOAT", name, f"{value!r} is not a number")
            if prop.type in ("datetime", "date") and parse_hs_datetime(value) is None:
                return _prop_error("INVALID_DATE", name, f"{value!r} is not a valid date")
            if name == "deal_currency_code" and value not in self.config.currencies:
                return _prop_error(
                    "INVALID_OPTION",
                    name,
                    f'"{value}" is not a part of the current effective currency codes '
                    f"for portal {self.config.portal_id}",
                )
            if prop.type == "string" and len(value) > self.config.max_text_value_chars:
                return _prop_error(
                    "INVALID_PROPERTY_VALUE_LENGTH",  # UNVERIFIED code, see max_text_value_chars
                    name,
                    f"value is {len(value)} characters; the limit is {self.config.max_text_value_chars}",
                )
            if prop.options and value not in {o.get("value") for o in prop.options}:
                return _prop_error("INVALID_OPTION", name, f"{value!r} was not one of the allowed options")
        if "pipeline" in props or "dealstage" in props:
            pipeline = self._pipeline(merged.get("pipeline") or "default")
            if pipeline is None:
                return _prop_error("INVALID_OPTION", "pipeline", "pipeline was not one of the allowed options")
            if merged.get("dealstage") and merged["dealstage"] not in {s.id for s in pipeline.stages}:
                return _prop_error("INVALID_OPTION", "dealstage", "dealstage was not one of the allowed options")
        if props.get("hubspot_owner_id") and props["hubspot_owner_id"] not in self.owners:
            return _prop_error("INVALID_OWNER_ID", "hubspot_owner_id", "owner id is not valid")
        for oid in str(props.get("hs_all_collaborator_owner_ids") or "").split(";"):
            if oid and oid not in self.owners:
                return _prop_error("INVALID_OWNER_ID", "hs_all_collaborator_owner_ids", "owner id is not valid")
        if existing is None:
            # HubSpot's app requires a deal name, pipeline and stage (the pipeline defaults to "default").
            missing = [name for name in ("dealname", "dealstage") if not merged.get(name)]
            if missing:
                return _required_error(missing)
        for name, value in props.items():
            prop = self.deal_properties[name]
            owner = self.unique_index.get((name, value))
            if prop.has_unique_value and value and owner is not None and (existing is None or owner != existing.id):
                return record_error(
                    "CONFLICT",
                    f"A deal with {name}={value} already exists. Existing ID: {owner}",
                    context={"propertyName": [name], "existingId": [owner]},
                )
        return None

    def _apply(self, deal: Record, props: dict[str, str], source: str = "INTEGRATION") -> None:
        now = max(time.time(), deal.updated_at + 0.001)
        for name, value in props.items():
            old = deal.properties.get(name)
            if old == value:
                continue
            prop = self.deal_properties.get(name)
            if prop is not None and prop.has_unique_value:
                if old:
                    self.unique_index.pop((name, old), None)
                if value:
                    self.unique_index[(name, value)] = deal.id
            deal.properties[name] = value
            deal.history.setdefault(name, []).insert(0, (value, now, source))
            if name in ("dealstage", "amount", "closedate"):
                self.webhook_events.append(
                    {
                        "eventId": next(self._ids),
                        "subscriptionId": 1,
                        "portalId": self.config.portal_id,
                        "appId": 1,
                        "occurredAt": int(now * 1000),
                        "subscriptionType": "deal.propertyChange",
                        "attemptNumber": 0,
                        "objectId": int(deal.id),
                        "propertyName": name,
                        "propertyValue": value,
                        "changeSource": source,
                        "sourceId": "sandbox",
                    }
                )
        self._derive(deal)
        deal.properties["hs_lastmodifieddate"] = iso(now)
        deal.updated_at = now

    def _derive(self, deal: Record) -> None:
        pipeline = self._pipeline(deal.properties.get("pipeline") or "default")
        stage = (
            next((s for s in pipeline.stages if s.id == deal.properties.get("dealstage")), None) if pipeline else None
        )
        if stage is not None:
            deal.properties["hs_is_closed"] = "true" if stage.is_closed else "false"
            deal.properties["hs_is_closed_won"] = "true" if stage.is_closed and stage.probability == 1.0 else "false"
            deal.properties["hs_deal_stage_probability"] = f"{stage.probability:.1f}"

    def _create_deal(self, props: dict[str, str]) -> Record:
        now = time.time()
        did = self._new_id(30_000_000_000)
        deal = Record(did, {"hs_object_id": did, "createdate": iso(now)}, now, now)
        deal.properties.setdefault("pipeline", "default")
        self.deals[did] = deal
        self._apply(deal, {"pipeline": props.get("pipeline") or "default", **props})
        return deal

    def _unique_prop(self, name: str) -> None:
        prop = self.deal_properties.get(name)
        if prop is None or not prop.has_unique_value:
            raise HubSpotHTTPError(
                400,
                error_body(
                    "VALIDATION_ERROR",
                    f"Unable to perform update/upsert by non-unique 0-3 property {name} in portal ID "
                    f"{self.config.portal_id}",
                ),
            )

    def _batch_answer(
        self, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int
    ) -> tuple[int, dict[str, Any]]:
        if self.config.shuffle_batch_results:
            results = list(reversed(results))  # deterministic, and never input order for >1 result
        now = iso(time.time())
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "requestedAt": now,
            "startedAt": now,
            "completedAt": now,
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return 207, body
        return ok_status, body

    def _reject_or_raise(self, inputs: list[dict[str, Any]], errors: dict[int, dict[str, Any]]) -> None:
        """Without objectWriteTraceIds HubSpot rejects the whole batch for one bad input (rudder#3308)."""
        if errors and not all(inputs[i].get("objectWriteTraceId") for i in errors):
            first = errors[min(errors)]
            raise HubSpotHTTPError(
                400 if first["category"] != "CONFLICT" else 409,
                error_body(
                    first["category"],
                    first["message"],
                    errors=_whole_batch_details(first) or None,
                    context=first["context"] or None,
                ),
            )

    def _fault_errors(
        self, path: str, inputs: list[dict[str, Any]], keys: list[str]
    ) -> tuple[dict[int, dict[str, Any]], bool]:
        """Per-input errors scripted with reject_record, and whether one asks for a whole-batch 400."""
        faults = self._rejections(path, keys)
        errors: dict[int, dict[str, Any]] = {}
        whole = False
        for i, key in enumerate(keys):
            f = faults.get(key)
            if f is None:
                continue
            code = str(f.extra.get("code", "INVALID_OPTION"))
            prop = str(f.extra.get("property", "dealname"))
            whole = whole or f.extra.get("mode") == "batch"
            errors[i] = _prop_error(code, prop, "Property values were not valid")
        return errors, whole

    def batch_upsert(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            inputs = self._check_batch(body.get("inputs"), self.config.batch_limit)
            # SDK v12 sends idProperty per input; the docs describe a query parameter. Accept both.
            default_id_prop = body.get("idProperty")
            keyed: list[tuple[str, str]] = []
            for inp in inputs:
                id_prop = str(inp.get("idProperty") or default_id_prop or "")
                if not id_prop or not inp.get("id"):
                    raise HubSpotHTTPError(400, error_body("VALIDATION_ERROR", "id and idProperty are required"))
                self._unique_prop(id_prop)
                keyed.append((id_prop, str(inp["id"])))
            dupes = sorted({v for (_, v) in keyed if sum(1 for _, w in keyed if w == v) > 1})
            if dupes:
                raise HubSpotHTTPError(
                    400,
                    error_body("VALIDATION_ERROR", f"Duplicate IDs found in batch input: {dupes}. IDs must be unique"),
                )
            errors, whole = self._fault_errors(path, inputs, [v for _, v in keyed])
            for i, inp in enumerate(inputs):
                if i in errors:
                    continue
                props = dict(inp.get("properties") or {})
                id_prop, value = keyed[i]
                props[id_prop] = value
                existing_id = self.unique_index.get(keyed[i])
                err = self._validate_props(props, self.deals.get(existing_id) if existing_id else None)
                if err is not None:
                    errors[i] = err
            if whole:
                self._reject_or_raise([{}] * len(inputs), errors)
            self._reject_or_raise(inputs, errors)
            results = []
            for i, inp in enumerate(inputs):
                if i in errors:
                    continue
                id_prop, value = keyed[i]
                props = {**dict(inp.get("properties") or {}), id_prop: value}
                existing_id = self.unique_index.get(keyed[i])
                if existing_id:
                    deal = self.deals[existing_id]
                    self._apply(deal, props)
                    new = False
                else:
                    deal = self._create_deal(props)
                    new = True
                results.append(self._deal_result(deal, list(props), inp.get("objectWriteTraceId"), new=new))
            return self._batch_answer(results, [_traced(errors[i], inputs[i]) for i in sorted(errors)], 200)

    def batch_create(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            inputs = self._check_batch(body.get("inputs"), self.config.batch_limit)
            uid = self.config.opportunity_id_property
            keys = [str((i.get("properties") or {}).get(uid, "")) for i in inputs]
            errors, whole = self._fault_errors(path, inputs, keys)
            seen: set[tuple[str, str]] = set()
            for i, inp in enumerate(inputs):
                if i in errors:
                    continue
                props = dict(inp.get("properties") or {})
                err = self._validate_props(props, None) or self._validate_inline_associations(inp)
                for name, value in props.items():
                    p = self.deal_properties.get(name)
                    if err is None and p is not None and p.has_unique_value and value:
                        if (name, value) in seen:
                            err = record_error(
                                "CONFLICT",
                                f"Duplicate {name}={value} in batch",
                                context={"propertyName": [name]},
                            )
                        seen.add((name, value))
                if err is not None:
                    errors[i] = err
            conflicts = {i: e for i, e in errors.items() if e["category"] == "CONFLICT"}
            if conflicts and self.config.create_conflict_mode == "batch":
                first = conflicts[min(conflicts)]
                raise HubSpotHTTPError(409, error_body("CONFLICT", first["message"], context=first["context"]))
            if whole:
                self._reject_or_raise([{}] * len(inputs), errors)
            self._reject_or_raise(inputs, errors)
            results = []
            for i, inp in enumerate(inputs):
                if i in errors:
                    continue
                props = dict(inp.get("properties") or {})
                deal = self._create_deal(props)
                for assoc in inp.get("associations") or []:
                    for t in assoc.get("types") or []:
                        self._associate(deal.id, str(assoc["to"]["id"]), int(t["associationTypeId"]))
                results.append(self._deal_result(deal, list(props), inp.get("objectWriteTraceId"), new=None))
            return self._batch_answer(results, [_traced(errors[i], inputs[i]) for i in sorted(errors)], 201)

    def _validate_inline_associations(self, inp: dict[str, Any]) -> dict[str, Any] | None:
        for assoc in inp.get("associations") or []:
            to_id = str((assoc.get("to") or {}).get("id", ""))
            for t in assoc.get("types") or []:
                if (
                    t.get("associationCategory") != "HUBSPOT_DEFINED"
                    or t.get("associationTypeId") not in VALID_DEAL_TO_COMPANY
                ):
                    return record_error(
                        "VALIDATION_ERROR",
                        "One or more associations are invalid",
                        context={"INVALID_ASSOCIATION_TYPE": [str(t.get("associationTypeId"))]},
                    )
            if to_id not in self.companies:
                return record_error(
                    "VALIDATION_ERROR",
                    "One or more associations are invalid",
                    context={"INVALID_OBJECT_IDS": [to_id]},
                )
        return None

    def _deal_result(self, deal: Record, sent: list[str], trace: Any, *, new: bool | None) -> dict[str, Any]:
        names = set(sent) | {"hs_object_id", "createdate", "hs_lastmodifieddate"}
        out: dict[str, Any] = {
            "id": deal.id,
            "properties": {k: v for k, v in deal.properties.items() if k in names},
            "createdAt": iso(deal.created_at),
            "updatedAt": iso(deal.updated_at),
            "archived": False,
        }
        if new is not None:
            out["new"] = new
        if trace:
            out["objectWriteTraceId"] = str(trace)
        return out

    # ---- deals: merge ------------------------------------------------------------------------------------

    def _resolve_deal(self, deal_id: str) -> Record | None:
        """A deal by id; a merged-away id reads as the deal its merge created ("If you make a GET request for
        Deal A, the dealId in the response will be Deal C's dealId",
        https://developers.hubspot.com/changelog/announcement-deals-now-support-merging)."""
        seen = 0
        while deal_id in self.merged_into and seen < 100:
            deal_id, seen = self.merged_into[deal_id], seen + 1
        return self.deals.get(deal_id)

    def merge_deals(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /crm/v3/objects/deals/merge`` {"primaryObjectId", "objectIdToMerge"} (both required strings,
        https://developers.hubspot.com/docs/api-reference/crm-deals-v3/basic/post-crm-v3-objects-0-3-merge).

        As HubSpot merges deals: a *new* deal C takes the primary's property values (the merged one's where the
        primary has none) with both histories, and every association of both; A and B disappear from lists and
        searches and read as C. Answers C as a SimplePublicObject. The refusals' wording is UNVERIFIED: a missing
        id is 404 OBJECT_NOT_FOUND, merging a deal with itself (also two ids already merged into one) is 400
        VALIDATION_ERROR.
        """
        with self.lock:
            primary_id, other_id = body.get("primaryObjectId"), body.get("objectIdToMerge")
            if set(body) - {"primaryObjectId", "objectIdToMerge"} or not all(
                isinstance(v, str) and v for v in (primary_id, other_id)
            ):
                raise HubSpotHTTPError(
                    400,
                    error_body(
                        "VALIDATION_ERROR",
                        "Invalid input JSON: primaryObjectId and objectIdToMerge are required strings",
                    ),
                )
            primary, other = self._resolve_deal(str(primary_id)), self._resolve_deal(str(other_id))
            missing = [i for i, d in ((primary_id, primary), (other_id, other)) if d is None]
            if primary is None or other is None:
                raise HubSpotHTTPError(
                    404, error_body("OBJECT_NOT_FOUND", f"Object not found. objectId are usually numeric: {missing}")
                )
            if primary.id == other.id:
                raise HubSpotHTTPError(400, error_body("VALIDATION_ERROR", "Cannot merge an object with itself"))
            now = max(time.time(), primary.updated_at + 0.001, other.updated_at + 0.001)
            merged_id = self._new_id(30_000_000_000)
            props = {k: v for k, v in other.properties.items() if v}
            props.update({k: v for k, v in primary.properties.items() if v})
            previous = [x for d in (primary, other) for x in d.properties.get("hs_merged_object_ids", "").split(";")]
            props.update(
                hs_object_id=merged_id,
                createdate=iso(min(primary.created_at, other.created_at)),
                hs_lastmodifieddate=iso(now),
                hs_merged_object_ids=";".join(x for x in [*previous, primary.id, other.id] if x),
            )
            history: dict[str, list[tuple[str, float, str]]] = {}
            for d in (primary, other):
                for name, values in d.history.items():
                    history[name] = sorted([*history.get(name, []), *values], key=lambda h: h[1], reverse=True)
            merged = Record(merged_id, props, min(primary.created_at, other.created_at), now, history)
            for d in (primary, other):
                del self.deals[d.id]
                for name, value in d.properties.items():
                    if self.unique_index.get((name, value)) == d.id:
                        del self.unique_index[(name, value)]
                self.merged_into[d.id] = merged_id
            for name, value in props.items():
                prop = self.deal_properties.get(name)
                if prop is not None and prop.has_unique_value and value:
                    self.unique_index[(name, value)] = merged_id
            self.associations = {
                (merged_id if a[0] in (primary.id, other.id) else a[0], a[1], a[2]) for a in self.associations
            }
            self.deals[merged_id] = merged
            self._derive(merged)
            return _object_wire(merged, [], _DEAL_DEFAULT_PROPS)

    # ---- deals: reads ------------------------------------------------------------------------------------

    def batch_read(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            inputs = self._check_batch(body.get("inputs"), self.config.batch_limit)
            id_prop = body.get("idProperty")
            if id_prop:
                self._unique_prop(str(id_prop))
            props = list(body.get("properties") or [])
            results, missing = [], []
            for inp in inputs:
                key = str(inp.get("id", ""))
                deal_id = self.unique_index.get((str(id_prop), key)) if id_prop else key
                deal = self._resolve_deal(deal_id or "")
                if deal is None:
                    missing.append(key)
                    continue
                wire = _object_wire(deal, props, _DEAL_DEFAULT_PROPS)
                with_history = [str(p) for p in body.get("propertiesWithHistory") or []]
                if with_history:
                    # "propertiesWithHistory" returns each value a property has had, newest first, with its
                    # timestamp and source (deals guide, crm-apis.md a9).
                    wire["propertiesWithHistory"] = {
                        name: [
                            {"value": v, "timestamp": iso(t), "sourceType": src, "sourceId": "sandbox"}
                            for v, t, src in deal.history.get(name, [])
                        ]
                        for name in with_history
                    }
                results.append(wire)
            errors = []
            if missing:
                errors.append(
                    record_error(
                        "OBJECT_NOT_FOUND",
                        "Could not get some deals objects, they may be deleted or not exist. Check that ids are valid.",
                        context={"ids": missing},
                    )
                )
            return self._batch_answer(results, errors, 200)

    # ---- associations v4 ---------------------------------------------------------------------------------

    def _associate(self, deal_id: str, company_id: str, type_id: int) -> None:
        if type_id == DEAL_TO_COMPANY_PRIMARY:
            # A deal has one primary company: the new primary demotes the old one to unlabeled (UNVERIFIED).
            self.associations = {
                a for a in self.associations if not (a[0] == deal_id and a[2] == DEAL_TO_COMPANY_PRIMARY)
            }
        self.associations.add((deal_id, company_id, type_id))
        self.associations.add((deal_id, company_id, DEAL_TO_COMPANY))

    def associations_create(self, from_type: str, to_type: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if _object_type(from_type) != DEALS or _object_type(to_type) != COMPANIES:
                raise HubSpotHTTPError(
                    400,
                    error_body(
                        "VALIDATION_ERROR",
                        f"The sandbox supports deal to company associations only, not {from_type} to {to_type}",
                    ),
                )
            inputs = self._check_batch(body.get("inputs"), self.config.association_batch_limit)
            bad_types = sorted(
                {
                    str(t.get("associationTypeId"))
                    for inp in inputs
                    for t in (inp.get("types") or [{}])
                    if t.get("associationCategory") != "HUBSPOT_DEFINED"
                    or t.get("associationTypeId") not in VALID_DEAL_TO_COMPANY
                }
            )
            if bad_types or any(not inp.get("types") for inp in inputs):
                from_ids = [str((i.get("from") or {}).get("id")) for i in inputs]
                raise HubSpotHTTPError(
                    400,
                    error_body(
                        "VALIDATION_ERROR",
                        "One or more associations are invalid",
                        context={"INVALID_OBJECT_IDS": from_ids, "associationTypeId": bad_types},
                    ),
                )
            results, errors = [], []
            for inp in inputs:
                d = str((inp.get("from") or {}).get("id", ""))
                c = str((inp.get("to") or {}).get("id", ""))
                missing = [x for x, ok in ((d, d in self.deals), (c, c in self.companies)) if not ok]
                if missing:
                    errors.append(
                        record_error(
                            "VALIDATION_ERROR",
                            "One or more associations are invalid",
                            context={"INVALID_OBJECT_IDS": missing, "fromObjectId": [d]},
                        )
                    )
                    continue
                labels: list[str] = []
                for t in inp["types"]:
                    self._associate(d, c, int(t["associationTypeId"]))
                    if int(t["associationTypeId"]) == DEAL_TO_COMPANY_PRIMARY:
                        labels.append("Primary")
                results.append(
                    {
                        "fromObjectTypeId": DEALS,
                        "fromObjectId": d,
                        "toObjectTypeId": COMPANIES,
                        "toObjectId": c,
                        "labels": labels,
                    }
                )
            return self._batch_answer(results, errors, 201)


_COMPANY_DEFAULT_PROPS = ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id")
_DEAL_DEFAULT_PROPS = (
    "dealname",
    "amount",
    "closedate",
    "pipeline",
    "dealstage",
    "createdate",
    "hs_lastmodifieddate",
    "hs_object_id",
)


def _object_type(name: str) -> str:
    return {
        "deals": DEALS,
        "deal": DEALS,
        DEALS: DEALS,
        "companies": COMPANIES,
        "company": COMPANIES,
        COMPANIES: COMPANIES,
    }.get(name.lower(), name)


def _bucket(path: str) -> str | None:
    if path.endswith("/search"):
        return "search"
    if path.startswith("/crm/v4/associations/") and "/batch/" in path:
        return None  # exempt from the ten-secondly bucket per HubSpot's spec
    return "ten_secondly"


def _rate_body(daily: bool, portal_id: int) -> dict[str, Any]:
    if daily:
        return error_body(
            "RATE_LIMIT",
            "You have reached your daily limit.",
            errorType="RATE_LIMIT",
            policyName="DAILY",
            requestId=correlation_id(),
        )
    return error_body(
        "RATE_LIMIT",
        "You have reached your ten_secondly_rolling limit.",
        errorType="RATE_LIMIT",
        policyName="TEN_SECONDLY_ROLLING",
        groupName=f"publicapi:private-app-api-calls-ten-secondly:{portal_id}",
    )


def _prop_error(code: str, prop: str, message: str) -> dict[str, Any]:
    failure = {"isValid": False, "message": message, "error": code, "name": prop, "localizedErrorMessage": message}
    return record_error("VALIDATION_ERROR", property_error_message([failure]))


def _required_error(missing: list[str]) -> dict[str, Any]:
    # The message HubSpot sends for an object created without its required properties ("Error creating CALL.
    # Some required properties were not set." in a public probe of the v3 objects API; deals by analogy).
    # It carries no property list, so the sandbox does not invent one (UNVERIFIED: a context key naming them).
    return record_error("VALIDATION_ERROR", "Error creating DEAL. Some required properties were not set.")


def _whole_batch_details(err: dict[str, Any]) -> list[dict[str, Any]]:
    """A per-record entry's embedded property failures as the ``errors`` list of a whole-request 400
    (``message``, ``code``, ``context.propertyName``: https://developers.hubspot.com/docs/api-reference/error-handling)."""
    prefix = "Property values were not valid: "
    message = str(err.get("message", ""))
    if not message.startswith(prefix):
        return []
    return [
        {"message": f.get("message"), "code": f.get("error"), "context": {"propertyName": [f.get("name")]}}
        for f in json.loads(message[len(prefix) :])
    ]


def _traced(err: dict[str, Any], inp: dict[str, Any]) -> dict[str, Any]:
    trace = inp.get("objectWriteTraceId")
    if trace:
        return {**err, "context": {**err["context"], "objectWriteTraceId": [str(trace)]}}
    if inp.get("id"):
        return {**err, "context": {**err["context"], "ids": [str(inp["id"])]}}
    return err


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else str(v)


def _object_wire(rec: Record, props: list[str], defaults: tuple[str, ...]) -> dict[str, Any]:
    names = set(props) if props else set(defaults)
    names |= {"hs_object_id", "createdate", "hs_lastmodifieddate"}
    return {
        "id": rec.id,
        # HubSpot returns requested properties the object lacks as null
        "properties": {n: rec.properties.get(n) for n in sorted(names)},
        "createdAt": iso(rec.created_at),
        "updatedAt": iso(rec.updated_at),
        "archived": False,
    }


def _page(items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    start = int(after) if after and after.isdigit() else 0
    out: dict[str, Any] = {"results": items[start : start + limit]}
    if start + limit < len(items):
        out["paging"] = {"next": {"after": str(start + limit), "link": f"?after={start + limit}"}}
    return out


def _sort_spec(sort: Any) -> tuple[str, bool]:
    if isinstance(sort, dict):
        return str(sort.get("propertyName")), str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
    s = str(sort)
    return (s[1:], True) if s.startswith("-") else (s, False)


def _property_sort_key(prop: str) -> Callable[[Record], tuple[int, float, str]]:
    return lambda r: _sort_key(r.properties.get(prop))


def _sort_key(value: str | None) -> tuple[int, float, str]:
    if value is None:
        return (1, 0.0, "")
    ts = parse_hs_datetime(value)
    if ts is not None:
        return (0, ts, "")
    return (0, 0.0, value)


def _compare(actual: str | None, op: str, f: dict[str, Any]) -> bool:
    if op == "HAS_PROPERTY":
        return bool(actual)
    if op == "NOT_HAS_PROPERTY":
        return not actual
    if op in ("IN", "NOT_IN"):
        values = {str(v).lower() for v in f.get("values") or []}
        return ((actual or "").lower() in values) == (op == "IN")
    value = str(f.get("value", ""))
    if op == "EQ":
        return (actual or "").lower() == value.lower()
    if op == "NEQ":
        return (actual or "").lower() != value.lower()
    if op == "CONTAINS_TOKEN":
        return value.lower().strip("*") in (actual or "").lower()
    if actual is None:
        return False
    a, b = parse_hs_datetime(actual), parse_hs_datetime(value)
    if a is None or b is None:
        try:
            a, b = float(actual), float(value)
        except ValueError:
            return False
    if op == "GT":
        return a > b
    if op == "GTE":
        return a >= b
    if op == "LT":
        return a < b
    if op == "LTE":
        return a <= b
    if op == "BETWEEN":
        hi = parse_hs_datetime(str(f.get("highValue", "")))
        return hi is not None and b <= a <= hi
    return False


def _matches(rec: Record, group: dict[str, Any]) -> bool:
    return all(
        _compare(rec.properties.get(str(f.get("propertyName"))), str(f.get("operator", "EQ")), f)
        for f in group.get("filters") or []
    )
