"""HubSpot behind the ``CRMAdapter`` interface, through the real hubspot-api-client.

Write path (steady state, at most 2 calls per 100 records):

* **New records** (``is_new``): ``batch/create`` with every property, seller fields included, and the
  deal→company association inline: one call per 100. Creation is guarded by the unique property holding our
  opportunity id, so a create retried after a timeout-after-commit *fails* for the deal that exists instead of
  duplicating it, and — unlike an upsert — it cannot reset a stage the seller changed in between. Such
  conflicts are resolved by a ``batch/read`` on the unique property and an update of our own properties only.
* **Existing records**: ``batch/upsert`` keyed by the unique property with only the service's own
  properties (guarantee 5: seller fields are never sent again), then a v4 association ``batch/create`` for
  deal→company pairs this process has not asserted yet (idempotent; covers a changed company).

A whole-batch 400/409 is bisected so one bad record of 100 yields 99 results and one rejection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

import requests
from hubspot.crm.associations.v4 import (
    AssociationSpec as V4AssociationSpec,
)
from hubspot.crm.associations.v4 import (
    BatchInputPublicAssociationMultiPost,
    PublicAssociationMultiPost,
)
from hubspot.crm.associations.v4 import (
    PublicObjectId as V4PublicObjectId,
)
from hubspot.crm.companies import Filter, FilterGroup, PublicObjectSearchRequest
from hubspot.crm.deals import (
    AssociationSpec,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicAssociationsForObject,
    PublicMergeInput,
    PublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)

from integrations.base import RawRequest, Rejected, Retryable, WebhookRejected, active_owner
from integrations.hubspot import mapping
from integrations.hubspot.client import BatchAnswer, HubSpotApis, WholeBatchRejected, batch_answer, call, error_info
from integrations.hubspot.config import HubSpotConfig
from integrations.hubspot.setup import ensure_deal_properties
from integrations.hubspot.webhook import parse_deal_changes, verify_signature_v3
from schemas.crm import (
    AccountRecord,
    ClosureResult,
    DuplicateClosure,
    OpportunityRecord,
    OutcomeRecord,
    UpsertResult,
    UserRecord,
)

T = TypeVar("T")
HUBSPOT_DEFINED = "HUBSPOT_DEFINED"
SEARCH_PAGE = 200
_CONFLICT_CODES = frozenset({"CONFLICT", "DUPLICATE_UNIQUE_VALUE", "OBJECT_ALREADY_EXISTS"})
# HubSpot's answer when an object would be created without its required properties carries no code, only
# this message ("Error creating CALL. Some required properties were not set." in a public probe of the v3 API).
_REQUIRED_MISSING_TEXT = "required properties were not set"


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class HubSpotAdapter:
    """The HubSpot CRM adapter. Safe to share between threads; every method is safe to retry."""

    name: ClassVar[str] = "hubspot"
    batch_size: ClassVar[int] = 100

    def __init__(self, config: HubSpotConfig, apis: HubSpotApis | None = None) -> None:
        self.config = config
        self._apis = apis or HubSpotApis.build(config)
        self._timeout = (config.connect_timeout, config.read_timeout)
        self._lock = threading.Lock()
        self._owners: tuple[float, dict[str, str], dict[str, str]] | None = None  # (at, email->id, id->email)
        self._stages: tuple[float, dict[tuple[str, str], mapping.StageInfo]] | None = None
        self._associated: set[tuple[str, str]] = set()  # (deal id, company id) asserted by this process
        self._last_search = 0.0
        self._currency: str | None = None  # the portal's company currency once read ("" if it has none)

    # ---- plumbing ----------------------------------------------------------------------------------------

    def _call(self, op: str, fn: Callable[..., T], *args: Any, batch_write: bool = False, **kwargs: Any) -> T:
        return call(
            op,
            lambda: fn(*args, _request_timeout=self._timeout, **kwargs),
            default_retry_after=self.config.default_retry_after,
            batch_write=batch_write,
        )

    def _call_batch(
        self, op: str, fn: Callable[..., Any], *args: Any, batch_write: bool = False, key: str = "id"
    ) -> BatchAnswer:
        """A batch endpoint whose 207 the SDK cannot read in strict mode: read its JSON ourselves."""
        raw = self._call(op, fn, *args, batch_write=batch_write, _preload_content=False)
        return batch_answer(op, raw, key=key)

    def record_url(self, crm_id: str) -> str:
        return self.config.record_url_template.format(portal_id=self.config.portal_id or "0", crm_id=crm_id)

    def request_cost(self, records: Sequence[OpportunityRecord]) -> float:
        """One batch upsert, plus one associations call when any record is an update."""
        return 2.0 if any(not r.is_new for r in records) else 1.0

    def refresh(self) -> bool:
        """A private-app token cannot be renewed by the service: the jobs wait until the token is replaced."""
        return False

    def setup(self) -> list[str]:
        """Create the ``signal_pipeline`` group and our deal properties if missing; check pipeline and stage."""
        return ensure_deal_properties(
            self._apis, self.config, lambda op, fn: call(op, fn, default_retry_after=self.config.default_retry_after)
        )

    # ---- owners and pipelines (cached) ------------------------------------------------------------------

    def _owner_maps(self) -> tuple[dict[str, str], dict[str, str]]:
        with self._lock:
            cached = self._owners
        if cached and time.monotonic() - cached[0] < self.config.owner_cache_seconds:
            return cached[1], cached[2]
        by_email: dict[str, str] = {}
        by_id: dict[str, str] = {}
        for user in self._owners_pages(archived=False):
            by_email[user.email] = user.crm_id
            by_id[user.crm_id] = user.email
        with self._lock:
            self._owners = (time.monotonic(), by_email, by_id)
        return by_email, by_id

    def _owners_pages(self, *, archived: bool) -> Iterator[UserRecord]:
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 100, "archived": archived}
            if after:
                kwargs["after"] = after
            page = self._call("owners.get_page", self._apis.owners.get_page, **kwargs)
            for owner in page.results or []:
                user = mapping.user_from_owner(owner)
                if user is not None:
                    yield user
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                return

    def _stage_map(self, *, refresh: bool = False) -> dict[tuple[str, str], mapping.StageInfo]:
        with self._lock:
            cached = self._stages
        if cached and not refresh and time.monotonic() - cached[0] < self.config.pipeline_cache_seconds:
            return cached[1]
        pipelines = self._call("pipelines.get_all", self._apis.pipelines.get_all, "deals")
        stages = mapping.stage_info(pipelines.results or [])
        with self._lock:
            self._stages = (time.monotonic(), stages)
        return stages

    # ---- upsert ------------------------------------------------------------------------------------------

    def upsert_opportunities(self, records: Sequence[OpportunityRecord]) -> list[UpsertResult]:
        """Create new deals / update our properties on existing ones; one result per input, in input order."""
        if not records:
            return []
        latest: dict[str, OpportunityRecord] = {}
        for r in records:  # duplicates in one batch make HubSpot refuse it; send the newest version once
            if r.opportunity_id not in latest or r.version >= latest[r.opportunity_id].version:
                latest[r.opportunity_id] = r
        active = self._owner_maps()[1]
        unique = [
            r.model_copy(update={"owner_crm_id": active_owner(r, active, self.config.default_owner_id)})
            for r in latest.values()
        ]
        collaborators = self._collaborators(unique)
        results: dict[str, UpsertResult] = {}
        size = self.config.batch_size
        for chunk in _chunks([r for r in unique if r.is_new], size):
            results.update(self._create(chunk, collaborators, depth=0))
        for chunk in _chunks([r for r in unique if not r.is_new], size):
            results.update(self._update(chunk, collaborators))
        return [results[r.opportunity_id] for r in records]

    def _collaborators(self, records: Sequence[OpportunityRecord]) -> dict[str, list[str]]:
        by_email, _ = self._owner_maps()
        return {r.opportunity_id: mapping.collaborator_ids(r, by_email) for r in records}

    def _ok(self, record: OpportunityRecord, crm_id: str, created: bool) -> UpsertResult:
        return UpsertResult(
            opportunity_id=record.opportunity_id, crm_id=crm_id, created=created, url=self.record_url(crm_id)
        )

    @staticmethod
    def _rejected(record: OpportunityRecord, code: str, field: str | None, message: str) -> UpsertResult:
        return UpsertResult(
            opportunity_id=record.opportunity_id, error_code=code, error_field=field, error_message=message
        )

    def _association_types(self) -> list[AssociationSpec]:
        return [
            AssociationSpec(association_category=HUBSPOT_DEFINED, association_type_id=self.config.association_type_id)
        ]

    def _create(
        self, chunk: Sequence[OpportunityRecord], collaborators: dict[str, list[str]], *, depth: int
    ) -> dict[str, UpsertResult]:
        names = self.config.properties
        inputs = [
            SimplePublicObjectBatchInputForCreate(
                properties={
                    **mapping.seller_properties(r, self.config),
                    **mapping.own_properties(r, names, collaborators[r.opportunity_id]),
                },
                associations=[
                    PublicAssociationsForObject(to=PublicObjectId(id=r.account_crm_id), types=self._association_types())
                ]
                if r.account_crm_id
                else [],
                object_write_trace_id=r.opportunity_id,
            )
            for r in chunk
        ]
        try:
            resp = self._call_batch(
                "deals.batch.create",
                self._apis.deals_batch.create,
                BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs),
                batch_write=True,
            )
        except WholeBatchRejected as exc:
            if exc.code in _CONFLICT_CODES or exc.status == 409:
                # Some of these deals exist already (a retried create): find which, never search.
                if depth > 1:
                    raise Retryable(
                        "HubSpot deals.batch.create: repeated unique-value conflicts",
                        status=exc.status,
                        code=exc.code,
                        request_id=exc.request_id,
                    ) from None
                return self._resolve_existing(chunk, collaborators, depth=depth + 1)
            return self._bisect(chunk, exc, lambda part: self._create(part, collaborators, depth=depth))
        by_key = {r.opportunity_id: r for r in chunk}
        out: dict[str, UpsertResult] = {}
        for obj in resp.results:
            record = by_key.get(_result_key(obj, names.opportunity_id))
            if record is not None:
                out[record.opportunity_id] = self._ok(record, str(obj["id"]), created=True)
                if record.account_crm_id:
                    self._remember_association(str(obj["id"]), record.account_crm_id)
        conflicts: list[OpportunityRecord] = []
        for err in resp.errors:
            record = self._error_record(err, by_key)
            if record is None:
                continue
            info = error_info(0, err)
            code = info.code or err["category"]
            if code in _CONFLICT_CODES or err["category"] == "CONFLICT":
                conflicts.append(record)
            else:
                out[record.opportunity_id] = self._rejected(
                    record,
                    code,
                    info.field,
                    _describe_record_error("deals.batch.create", err["category"], code, info.field),
                )
        if conflicts:
            if depth > 1:
                raise Retryable("HubSpot deals.batch.create: repeated unique-value conflicts", code="CONFLICT")
            out.update(self._update(conflicts, collaborators, assert_association=True))
        self._check_complete("deals.batch.create", chunk, out)
        return out

    def _resolve_existing(
        self, chunk: Sequence[OpportunityRecord], collaborators: dict[str, list[str]], *, depth: int
    ) -> dict[str, UpsertResult]:
        existing = {oid for oid, _ in self._read_by_key([r.opportunity_id for r in chunk], ())}
        out: dict[str, UpsertResult] = {}
        present = [r for r in chunk if r.opportunity_id in existing]
        missing = [r for r in chunk if r.opportunity_id not in existing]
        if present:
            out.update(self._update(present, collaborators, assert_association=True))
        if missing:
            out.update(self._create(missing, collaborators, depth=depth))
        return out

    def _update(
        self,
        chunk: Sequence[OpportunityRecord],
        collaborators: dict[str, list[str]],
        *,
        assert_association: bool = False,
    ) -> dict[str, UpsertResult]:
        """Upsert only our own properties; the deal's seller fields stay as the seller left them."""
        names = self.config.properties
        with_collab = self.config.collaborators_on_update
        inputs = [
            SimplePublicObjectBatchInputUpsert(
                id_property=names.opportunity_id,
                id=r.opportunity_id,
                properties=mapping.own_properties(r, names, collaborators[r.opportunity_id] if with_collab else None),
                object_write_trace_id=r.opportunity_id,
            )
            for r in chunk
        ]
        try:
            resp = self._call_batch(
                "deals.batch.upsert",
                self._apis.deals_batch.upsert,
                BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs),
                batch_write=True,
            )
        except WholeBatchRejected as exc:
            return self._bisect(
                chunk, exc, lambda part: self._update(part, collaborators, assert_association=assert_association)
            )
        by_key = {r.opportunity_id: r for r in chunk}
        out: dict[str, UpsertResult] = {}
        created_bare: list[tuple[OpportunityRecord, str]] = []
        for obj in resp.results:
            record = by_key.get(_result_key(obj, names.opportunity_id))
            if record is None:
                continue
            out[record.opportunity_id] = self._ok(record, str(obj["id"]), created=bool(obj.get("new")))
            if obj.get("new"):
                created_bare.append((record, str(obj["id"])))
        recreate: list[OpportunityRecord] = []
        for err in resp.errors:
            record = self._error_record(err, by_key)
            if record is None:
                continue
            info = error_info(0, err)
            code = info.code or err["category"]
            if _REQUIRED_MISSING_TEXT in str(err.get("message", "")):
                recreate.append(record)  # the deal is gone (deleted by a seller): nothing left to protect
            else:
                out[record.opportunity_id] = self._rejected(
                    record,
                    code,
                    info.field,
                    _describe_record_error("deals.batch.upsert", err["category"], code, info.field),
                )
        if created_bare:
            self._fill_seller_fields(created_bare)
        if recreate:
            out.update(self._create(recreate, collaborators, depth=2))
        self._check_complete("deals.batch.upsert", chunk, out)
        self._associate(
            [(r, out[r.opportunity_id]) for r in chunk if r.opportunity_id not in {x.opportunity_id for x in recreate}],
            force=assert_association,
            out=out,
        )
        return out

    def _fill_seller_fields(self, created: list[tuple[OpportunityRecord, str]]) -> None:
        """An upsert of our properties created a deal (the portal allows bare deals): give it its seller
        fields now. It was created this instant, so no seller can have touched them."""
        inputs = [
            SimplePublicObjectBatchInput(id=crm_id, properties=mapping.seller_properties(r, self.config))
            for r, crm_id in created
        ]
        self._call_batch(
            "deals.batch.update", self._apis.deals_batch.update, BatchInputSimplePublicObjectBatchInput(inputs=inputs)
        )

    def _remember_association(self, deal_id: str, company_id: str) -> None:
        with self._lock:
            if len(self._associated) > 100_000:
                self._associated.clear()  # a bounded cache; forgetting only costs a re-assertion
            self._associated.add((deal_id, company_id))

    def _associate(
        self, pairs: Sequence[tuple[OpportunityRecord, UpsertResult]], *, force: bool, out: dict[str, UpsertResult]
    ) -> None:
        with self._lock:
            todo = [
                (r, res)
                for r, res in pairs
                if res.ok
                and r.account_crm_id
                and res.crm_id
                and (force or (res.crm_id, r.account_crm_id) not in self._associated)
            ]
        for chunk in _chunks(todo, self.config.batch_size):
            inputs = [
                PublicAssociationMultiPost(
                    _from=V4PublicObjectId(id=res.crm_id),
                    to=V4PublicObjectId(id=r.account_crm_id),
                    types=[
                        V4AssociationSpec(
                            association_category=HUBSPOT_DEFINED, association_type_id=self.config.association_type_id
                        )
                    ],
                )
                for r, res in chunk
            ]
            resp = self._call_batch(
                "associations.batch.create",
                self._apis.associations_batch.create,
                "deals",
                "companies",
                BatchInputPublicAssociationMultiPost(inputs=inputs),
                key="fromObjectId",
            )
            done = {(str(x["fromObjectId"]), str(x.get("toObjectId"))) for x in resp.results}
            for r, res in chunk:
                assert res.crm_id is not None and r.account_crm_id is not None
                if (res.crm_id, r.account_crm_id) in done:
                    self._remember_association(res.crm_id, r.account_crm_id)
                else:
                    # The deal is written; only its company link failed. Keep the CRM id, flag the error.
                    out[r.opportunity_id] = res.model_copy(
                        update={
                            "error_code": "ASSOCIATION_FAILED",
                            "error_field": "associations",
                            "error_message": "HubSpot associations.batch.create refused the deal->company link",
                        }
                    )

    def _bisect(
        self,
        chunk: Sequence[OpportunityRecord],
        exc: WholeBatchRejected,
        send: Callable[[Sequence[OpportunityRecord]], dict[str, UpsertResult]],
    ) -> dict[str, UpsertResult]:
        if len(chunk) == 1:
            return {chunk[0].opportunity_id: self._rejected(chunk[0], exc.code or "REJECTED", exc.field, str(exc))}
        mid = len(chunk) // 2
        return {**send(chunk[:mid]), **send(chunk[mid:])}

    @staticmethod
    def _error_record(err: dict[str, Any], by_key: dict[str, OpportunityRecord]) -> OpportunityRecord | None:
        ctx = err.get("context") or {}
        for key in (*(ctx.get("objectWriteTraceId") or []), *(ctx.get("ids") or [])):
            if key in by_key:
                return by_key[key]
        return None

    @staticmethod
    def _check_complete(op: str, chunk: Sequence[OpportunityRecord], out: dict[str, UpsertResult]) -> None:
        # A malformed batch can come back COMPLETE with no results (rudder#5147): never take that as success.
        missing = [r.opportunity_id for r in chunk if r.opportunity_id not in out]
        if missing:
            raise Retryable(
                f"HubSpot {op}: {len(missing)} of {len(chunk)} inputs had neither result nor error",
                code="INCOMPLETE_BATCH",
            )

    # ---- merges ------------------------------------------------------------------------------------------

    def close_duplicates(self, closures: Sequence[DuplicateClosure]) -> list[ClosureResult]:
        """Merge each merged-away deal into the survivor's deal with HubSpot's deals merge API
        (``POST /crm/v3/objects/deals/merge`` {"primaryObjectId", "objectIdToMerge"},
        https://developers.hubspot.com/docs/api-reference/crm-deals-v3/basic/post-crm-v3-objects-0-3-merge),
        one call each. The merge creates a new deal with a new id that both old ids read as
        (https://developers.hubspot.com/changelog/announcement-deals-now-support-merging); that id is returned
        as the survivor's. The merged deal must keep the survivor's opportunity id (our upsert key), so when the
        answer shows another value it is set again (one more call)."""
        return [self._merge(c) for c in closures]

    def _merge(self, c: DuplicateClosure) -> ClosureResult:
        key = self.config.properties.opportunity_id
        try:
            merged = self._call(
                "deals.merge",
                self._apis.deals_basic.merge,
                PublicMergeInput(primary_object_id=c.survivor_crm_id, object_id_to_merge=c.crm_id),
            )
        except Rejected as exc:
            if exc.status not in (400, 404):
                raise
            # Either a merge retried after its first try committed (both ids now read as the merged deal), a
            # merged-away deal a seller deleted, or a refusal: read both ids to tell them apart.
            found = self._read_ids([c.survivor_crm_id, c.crm_id])
            survivor, absorbed = found.get(c.survivor_crm_id), found.get(c.crm_id)
            if survivor is not None and (absorbed is None or absorbed == survivor):
                return self._merged(c, survivor)
            return ClosureResult(
                opportunity_id=c.opportunity_id, error_code=exc.code or "MERGE_REFUSED", error_message=str(exc)
            )
        merged_id = str(merged.id)
        if (merged.properties or {}).get(key) not in (None, c.survivor_opportunity_id):
            self._call_batch(
                "deals.batch.update",
                self._apis.deals_batch.update,
                BatchInputSimplePublicObjectBatchInput(
                    inputs=[SimplePublicObjectBatchInput(id=merged_id, properties={key: c.survivor_opportunity_id})]
                ),
            )
        return self._merged(c, merged_id)

    def _merged(self, c: DuplicateClosure, deal_id: str) -> ClosureResult:
        return ClosureResult(
            opportunity_id=c.opportunity_id, survivor_crm_id=deal_id, survivor_url=self.record_url(deal_id)
        )

    def _read_ids(self, ids: Sequence[str]) -> dict[str, str]:
        """Requested deal id -> the id it reads as now (a merged-away id reads as its merged deal); absent if
        missing. One batch read per id, because a batch answer does not say which input each result answers."""
        out: dict[str, str] = {}
        for deal_id in ids:
            body = BatchReadInputSimplePublicObjectId(
                properties=[], properties_with_history=[], inputs=[SimplePublicObjectId(id=deal_id)]
            )
            resp = self._call_batch("deals.batch.read", self._apis.deals_batch.read, body)
            if resp.results:
                out[deal_id] = str(resp.results[0]["id"])
        return out

    # ---- reads -------------------------------------------------------------------------------------------

    def _read_by_key(
        self, opportunity_ids: Sequence[str], properties: Sequence[str], with_history: Sequence[str] = ()
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(opportunity id, deal JSON) for those that exist, by batch read on the unique property."""
        names = self.config.properties
        props = sorted({names.opportunity_id, *properties})
        for chunk in _chunks(list(dict.fromkeys(opportunity_ids)), self.config.batch_size):
            body = BatchReadInputSimplePublicObjectId(
                id_property=names.opportunity_id,
                properties=props,
                properties_with_history=list(with_history),
                inputs=[SimplePublicObjectId(id=i) for i in chunk],
            )
            # Missing ids come back as a 207 OBJECT_NOT_FOUND entry, which the strict SDK cannot read.
            resp = self._call_batch("deals.batch.read", self._apis.deals_batch.read, body)
            for obj in resp.results:
                key = (obj.get("properties") or {}).get(names.opportunity_id)
                if key:
                    yield key, obj

    def pull_outcomes(self, opportunity_ids: Sequence[str]) -> Iterator[OutcomeRecord]:
        """Current outcome of each deal that exists; won/lost from the pipelines API's stage metadata."""
        deals = list(self._read_by_key(opportunity_ids, mapping.OUTCOME_PROPERTIES, mapping.HISTORY_PROPERTIES))
        yield from self._outcomes(obj for _, obj in deals)

    def _outcomes(self, deals: Iterable[dict[str, Any]]) -> Iterator[OutcomeRecord]:
        stages = self._stage_map()
        for obj in deals:
            props = obj.get("properties") or {}
            key = (props.get("pipeline") or self.config.pipeline_id, props.get("dealstage") or "")
            if props.get("dealstage") and key not in stages:
                stages = self._stage_map(refresh=True)  # a stage added since we cached the pipelines
            currency = props.get("deal_currency_code") or (self._company_currency() if props.get("amount") else None)
            outcome = mapping.outcome_from_deal(
                str(obj["id"]), props, stages, self.config, history=obj.get("propertiesWithHistory"), currency=currency
            )
            if outcome is not None:
                yield outcome

    def _company_currency(self) -> str | None:
        """The portal's company currency, which a deal without deal_currency_code is in; read once
        (``GET /settings/v3/currencies/company-currency``, https://developers.hubspot.com/docs/api/settings/currencies)."""
        with self._lock:
            if self._currency is not None:
                return self._currency or None
        # hubspot-api-client 12 has no settings API, and its api_request() sets no timeout: plain requests here.
        try:
            response = requests.get(
                self.config.base_url.rstrip("/") + "/settings/v3/currencies/company-currency",
                headers={"Authorization": f"Bearer {self.config.access_token}", "Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException:
            raise Retryable("HubSpot currencies.company_currency: connection failed", code="CONNECTION") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise Retryable(
                f"HubSpot currencies.company_currency: HTTP {response.status_code}", status=response.status_code
            )
        try:
            code = str(response.json().get("currencyCode") or "") if response.status_code == 200 else ""
        except (ValueError, AttributeError):
            code = ""
        with self._lock:
            self._currency = code
        return code or None

    def pull_users(self, since: datetime | None) -> Iterator[UserRecord]:
        """HubSpot owners (active, then archived as inactive). ``since`` is ignored: owners are few."""
        yield from self._owners_pages(archived=False)
        yield from self._owners_pages(archived=True)

    def pull_accounts(self, since: datetime | None) -> Iterator[AccountRecord]:
        """Companies; all of them without ``since``, else those modified at or after it, oldest first."""
        _, owner_emails = self._owner_maps()
        props = list(mapping.COMPANY_PROPERTIES)
        if since is None:
            after: str | None = None
            while True:
                kwargs: dict[str, Any] = {"limit": 100, "properties": props, "archived": False}
                if after:
                    kwargs["after"] = after
                page = self._call("companies.get_page", self._apis.companies_basic.get_page, **kwargs)
                for obj in page.results or []:
                    yield mapping.account_from_company(str(obj.id), obj.properties or {}, owner_emails)
                after = page.paging.next.after if page.paging and page.paging.next else None
                if not after:
                    return
        overlap = timedelta(seconds=self.config.search_index_lag_seconds)
        yield from self._search_companies_since(since - overlap, props, owner_emails)

    def _search_companies_since(
        self, since: datetime, props: list[str], owner_emails: dict[str, str]
    ) -> Iterator[AccountRecord]:
        cursor, seen = since, set[str]()
        while True:
            offset, last_modified, progressed = 0, cursor, False
            while True:
                req = PublicObjectSearchRequest(
                    filter_groups=[
                        FilterGroup(
                            filters=[
                                Filter(
                                    property_name="hs_lastmodifieddate", operator="GTE", value=mapping.epoch_ms(cursor)
                                )
                            ]
                        )
                    ],
                    sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                    properties=props,
                    limit=SEARCH_PAGE,
                    after=str(offset),
                )
                self._pace_search()
                page = self._call("companies.search", self._apis.companies_search.do_search, req)
                for obj in page.results or []:
                    account = mapping.account_from_company(str(obj.id), obj.properties or {}, owner_emails)
                    if account.updated_at and account.updated_at > last_modified:
                        last_modified = account.updated_at
                    if account.crm_id not in seen:
                        seen.add(account.crm_id)
                        progressed = True
                        yield account
                nxt = page.paging.next.after if page.paging and page.paging.next else None
                if not nxt:
                    return
                offset = int(nxt)
                if offset + SEARCH_PAGE > self.config.search_window:
                    break  # restart the window from the newest modification seen so far
            if not progressed or last_modified == cursor:
                return
            cursor = last_modified

    def _pace_search(self) -> None:
        with self._lock:
            wait = self._last_search + self.config.search_min_interval - time.monotonic()
            self._last_search = time.monotonic() + max(wait, 0.0)
        if wait > 0:
            time.sleep(wait)

    # ---- webhooks ----------------------------------------------------------------------------------------

    def verify_webhook(self, raw: RawRequest) -> list[OutcomeRecord]:
        """Verify the v3 signature, then report the *current* outcome of each deal the events name.

        Reading current state (one batch read per 100 deals) makes replays and out-of-order deliveries
        harmless. Deals without our opportunity id are ignored. Raises WebhookRejected on a bad signature.
        """
        if not self.config.client_secret:
            raise WebhookRejected("no client secret configured")
        verify_signature_v3(raw, self.config.client_secret, tolerance_seconds=self.config.webhook_tolerance_seconds)
        deal_ids = list(dict.fromkeys(c.deal_id for c in parse_deal_changes(raw.body)))
        props = sorted({self.config.properties.opportunity_id, *mapping.OUTCOME_PROPERTIES})
        deals: list[dict[str, Any]] = []
        for chunk in _chunks(deal_ids, self.config.batch_size):
            body = BatchReadInputSimplePublicObjectId(
                properties=props,
                properties_with_history=list(mapping.HISTORY_PROPERTIES),
                inputs=[SimplePublicObjectId(id=i) for i in chunk],
            )
            deals.extend(self._call_batch("deals.batch.read", self._apis.deals_batch.read, body).results)
        return list(self._outcomes(deals))


def _result_key(obj: dict[str, Any], key_property: str) -> str:
    return str(obj.get("objectWriteTraceId") or (obj.get("properties") or {}).get(key_property) or "")


def _describe_record_error(op: str, category: str | None, code: str, field: str | None) -> str:
    where = f" on {field}" if field else ""
    return f"HubSpot {op}: {category or 'error'}/{code}{where}"
