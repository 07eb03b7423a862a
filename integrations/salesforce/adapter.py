"""Salesforce behind ``integrations.base.CRMAdapter``, on the real simple-salesforce client.

Write path, per chunk of at most 200 records (one API call per chunk):
- only known records: ``PATCH composite/sobjects/Opportunity/<ExtId>`` with the service's own fields;
- any new record: one ``POST composite`` holding (1) ``POST composite/sobjects`` creating the new records
  with the seller's fields and (2) the owned-fields upsert for the whole chunk. A create whose external id
  already exists (a retry after a timeout that committed, or a concurrent worker) fails with DUPLICATE_VALUE
  and changes nothing; subrequest (2) then updates only our fields. No call ever sends Name, StageName,
  Amount, OwnerId or CloseDate to an existing Opportunity (GUARANTEE 5), whatever retries happen.
Then contributors who are Salesforce users become OpportunityTeamMember rows (collections create, which
Salesforce merges on duplicates), at most 200 per call. Above ``bulk_threshold`` records the same two-step
create/upsert runs as Bulk API 2.0 jobs.
"""

from __future__ import annotations

import base64
import csv
import io
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, ClassVar, TypeVar, cast

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import SFBulk2Handler
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceBulkV2LoadError,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceOperationError,
)
from simple_salesforce.login import token_login

from integrations.base import (
    AuthExpired,
    CRMError,
    RateLimited,
    RawRequest,
    Rejected,
    Retryable,
    WebhookRejected,
    active_owner,
)
from integrations.salesforce import mapping
from integrations.salesforce.config import SalesforceConfig
from integrations.salesforce.setup import check_fields, custom_field_specs
from schemas.crm import (
    AccountRecord,
    ClosureResult,
    DuplicateClosure,
    OpportunityRecord,
    OutcomeRecord,
    UpsertResult,
    UserRecord,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

COLLECTION_SIZE = 200  # sObject Collections hard limit
_RETRYABLE_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"})
_SOQL_IN_CHUNK = 200


class SalesforceHttpSession(requests.Session):
    """The ``requests.Session`` handed to simple-salesforce: a default timeout on every request, and a
    CA bundle that wins over ``REQUESTS_CA_BUNDLE`` (requests otherwise lets the environment override
    ``Session.verify``, psf/requests#3829)."""

    def __init__(self, timeout: float, ca_bundle: str | None = None) -> None:
        super().__init__()
        self.default_timeout = timeout
        if ca_bundle:
            self.verify = ca_bundle

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if isinstance(self.verify, str) and verify in (None, True):
            settings["verify"] = self.verify
        return settings


class _SessionExpired(Exception):
    """Internal: a 401 INVALID_SESSION_ID, to be answered by one re-authentication."""


class SalesforceAdapter:
    """Salesforce Opportunities for the sync worker. Every method is safe to retry."""

    name: ClassVar[str] = "salesforce"
    batch_size: ClassVar[int] = COLLECTION_SIZE

    def __init__(
        self,
        config: SalesforceConfig,
        *,
        session: requests.Session | None = None,
        today: Callable[[], date] | None = None,
    ) -> None:
        if not config.can_login and not (config.session_id and config.instance_url):
            raise ValueError("Salesforce needs client_id+client_secret (OAuth) or session_id+instance_url")
        self.config = config
        self.http = session or SalesforceHttpSession(config.timeout_seconds, config.ca_bundle)
        self._today = today or (lambda: datetime.now(UTC).date())
        self._lock = threading.Lock()
        self._sf: Salesforce | None = None
        self._instance_url: str | None = config.instance_url.rstrip("/") if config.instance_url else None
        self._users: dict[str, str] | None = None  # lower-cased e-mail -> active User Id
        self._team_done: set[tuple[str, str]] = set()  # (OpportunityId, UserId) confirmed in this process
        self._currency: str | None = None  # the org's currency once read ("" if unknown)
        self._lost: str | None = None  # the closed, not-won stage merged-away Opportunities take, once read
        self._team_selling: bool | None = {"on": True, "off": False}.get(config.team_selling)
        #: Parsed ``Sforce-Limit-Info`` of the last response: {"api-usage": Usage(used, total)}.
        self.api_usage: Mapping[str, Any] = {}
        self.login_count = 0
        self._static_token_spent = False  # a configured session_id is used until it first expires

    # ------------------------------------------------------------------ session handling

    def _client(self) -> Salesforce:
        with self._lock:
            if self._sf is None:
                if self.config.session_id and self._instance_url and not self._static_token_spent:
                    token, instance = self.config.session_id, self._instance_url
                else:
                    token, instance = self._login()
                self._sf = Salesforce(
                    session_id=token, instance_url=instance, session=self.http, version=self.config.api_version
                )
            return self._sf

    def _login(self) -> tuple[str, str]:
        cfg = self.config
        if not cfg.can_login:
            raise AuthExpired(
                "Salesforce session expired and no OAuth credentials to renew it", status=401, code="INVALID_SESSION_ID"
            )
        assert cfg.client_id is not None and cfg.client_secret is not None
        headers: dict[str, str] | None = None
        if cfg.username and cfg.password is not None:
            data = {
                "grant_type": "password",
                "client_id": cfg.client_id,
                "client_secret": cfg.client_secret,
                "username": cfg.username,
                "password": cfg.password + cfg.security_token,
            }
        else:
            data = {"grant_type": "client_credentials"}
            headers = {"Authorization": "Basic " + _basic(cfg.client_id, cfg.client_secret)}
        self.login_count += 1
        try:
            token, instance = token_login(
                f"{cfg.login_url.rstrip('/')}/services/oauth2/token",
                data,
                "login",
                cfg.client_id,
                headers,
                None,
                self.http,
            )
        except SalesforceAuthenticationFailed as exc:
            # exc.code is the OAuth error ("invalid_grant"); the description can echo the username.
            raise AuthExpired(f"Salesforce login failed: {exc.code}", code=str(exc.code)) from None
        except requests.RequestException as exc:
            raise Retryable(f"Salesforce login unreachable: {type(exc).__name__}", code="CONNECTION_ERROR") from None
        self._instance_url = f"https://{instance}".rstrip("/")
        return str(token), self._instance_url

    def _call(self, op: Callable[[Salesforce], T], what: str) -> T:
        """Run one operation; on INVALID_SESSION_ID re-authenticate once and run it again."""
        try:
            return self._translated(op, what)
        except _SessionExpired:
            with self._lock:
                self._sf = None
                self._static_token_spent = True
            if not self.config.can_login:
                raise AuthExpired(
                    f"Salesforce {what}: HTTP 401 INVALID_SESSION_ID", status=401, code="INVALID_SESSION_ID"
                ) from None
            try:
                return self._translated(op, what)
            except _SessionExpired:
                with self._lock:
                    self._sf = None
                raise AuthExpired(
                    f"Salesforce {what}: HTTP 401 INVALID_SESSION_ID after one re-authentication",
                    status=401,
                    code="INVALID_SESSION_ID",
                ) from None

    def _translated(self, op: Callable[[Salesforce], T], what: str) -> T:
        sf = self._client()
        try:
            result = op(sf)
        except SalesforceExpiredSession:
            raise _SessionExpired() from None
        except SalesforceError as exc:
            raise self._map_error(int(exc.status), exc.content, what) from None
        except (SalesforceOperationError, SalesforceBulkV2LoadError) as exc:
            # A Bulk job that ended Failed/Aborted: the job as a whole is unusable (bad CSV, bad field).
            raise Rejected(
                f"Salesforce {what}: bulk job failed ({type(exc).__name__})", code="BULK_JOB_FAILED"
            ) from None
        except requests.Timeout:
            raise Retryable(f"Salesforce {what}: timed out", code="TIMEOUT") from None
        except requests.RequestException as exc:
            raise Retryable(f"Salesforce {what}: {type(exc).__name__}", code="CONNECTION_ERROR") from None
        if sf.api_usage:
            self.api_usage = dict(sf.api_usage)
        return result

    def _map_error(self, status: int, content: Any, what: str) -> CRMError:
        """Status and errorCode only: the body can carry record values."""
        code, field = _first_error(content)
        message = f"Salesforce {what}: HTTP {status} {code or ''}".rstrip()
        if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            return RateLimited(message, retry_after=self.config.rate_limit_retry_after, status=status, code=code)
        if status >= 500 or status in (408, 429) or code in _RETRYABLE_CODES:
            return Retryable(message, status=status, code=code)
        return Rejected(message, code=code or f"HTTP_{status}", field=field, status=status)

    # ------------------------------------------------------------------ upsert

    def upsert_opportunities(self, records: Sequence[OpportunityRecord]) -> list[UpsertResult]:
        """Upsert keyed by opportunity id; exactly one result per input, in input order.

        Raises ``Retryable``/``RateLimited``/``AuthExpired``/``Rejected`` for whole-request failures and
        ``Retryable`` when any record hit a transient per-record error (UNABLE_TO_LOCK_ROW): a retry of
        the whole batch is safe.
        """
        if not records:
            return []
        latest: dict[str, OpportunityRecord] = {}
        for record in records:  # one write per opportunity: the same id twice in a batch is an error in SF
            seen = latest.get(record.opportunity_id)
            if seen is None or record.version >= seen.version:
                latest[record.opportunity_id] = record
        batch = list(latest.values())
        if any(r.is_new and (r.owner_crm_id or r.account_owner_crm_id) for r in batch):
            active = set(self._user_ids().values())
            batch = [
                r.model_copy(update={"owner_crm_id": active_owner(r, active, self.config.default_owner_id)})
                if r.is_new
                else r
                for r in batch
            ]
        if len(batch) > self.config.bulk_threshold:
            results = self._upsert_bulk(batch)
        else:
            results = {}
            for start in range(0, len(batch), COLLECTION_SIZE):
                results.update(self._upsert_collection(batch[start : start + COLLECTION_SIZE]))
        transient = [r for r in results.values() if r.error_code in _RETRYABLE_CODES]
        if transient:
            raise Retryable(
                f"Salesforce upsert: {len(transient)} record(s) failed with {transient[0].error_code}",
                code=transient[0].error_code,
            )
        self._add_team_members(batch, results)
        out = []
        for record in records:
            result = results[record.opportunity_id]
            if result.crm_id and result.url is None:
                result = result.model_copy(update={"url": self.record_url(result.crm_id)})
            out.append(result)
        return out

    def _upsert_collection(self, chunk: list[OpportunityRecord]) -> dict[str, UpsertResult]:
        cfg = self.config
        version = cfg.api_version
        ext = cfg.fields.external_id
        new = [r for r in chunk if r.is_new or r.crm_id is None]
        owned = {
            "allOrNone": False,
            "records": [mapping.sobject("Opportunity", mapping.owned_fields(r, cfg)) for r in chunk],
        }
        upsert_path = f"composite/sobjects/Opportunity/{ext}"
        if not new:
            updated = self._call(lambda sf: sf.restful(upsert_path, method="PATCH", json=owned), "upsert")
            return self._collect(chunk, [], _as_list(updated, len(chunk)), [])
        today = self._today()
        creates = {
            "allOrNone": False,
            "records": [mapping.sobject("Opportunity", mapping.create_fields(r, cfg, today)) for r in new],
        }
        body = {
            "allOrNone": False,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": f"/services/data/v{version}/composite/sobjects",
                    "referenceId": "createNew",
                    "body": creates,
                },
                {
                    "method": "PATCH",
                    "url": f"/services/data/v{version}/{upsert_path}",
                    "referenceId": "updateOwned",
                    "body": owned,
                },
            ],
        }
        reply = self._call(lambda sf: sf.restful("composite", method="POST", json=body), "upsert")
        subs = {str(s.get("referenceId")): s for s in (reply or {}).get("compositeResponse", [])}
        created = self._subresponse(subs.get("createNew"), len(new))
        updated = self._subresponse(subs.get("updateOwned"), len(chunk))
        return self._collect(chunk, new, updated, created)

    def _subresponse(self, sub: Mapping[str, Any] | None, expected: int) -> list[Mapping[str, Any]]:
        if sub is None:
            raise Retryable("Salesforce upsert: composite response lacks a subrequest", code="INCOMPLETE_RESPONSE")
        status = int(sub.get("httpStatusCode", 0))
        if status >= 300:
            raise self._map_error(status, sub.get("body"), "upsert")
        return _as_list(sub.get("body"), expected)

    def _collect(
        self,
        chunk: list[OpportunityRecord],
        new: list[OpportunityRecord],
        updated: list[Mapping[str, Any]],
        created: list[Mapping[str, Any]],
    ) -> dict[str, UpsertResult]:
        """Per-record results: a create that succeeded, else the owned-fields upsert, else the error."""
        created_by_id = {r.opportunity_id: c for r, c in zip(new, created, strict=True)}
        results: dict[str, UpsertResult] = {}
        for record, upd in zip(chunk, updated, strict=True):
            oid = record.opportunity_id
            made = created_by_id.get(oid)
            if made is not None and made.get("success"):
                results[oid] = UpsertResult(opportunity_id=oid, crm_id=str(made["id"]), created=True)
                continue
            if upd.get("success") and not upd.get("created"):
                # Exists already (known record, or a create that a previous attempt committed).
                results[oid] = UpsertResult(opportunity_id=oid, crm_id=str(upd["id"]), created=False)
                continue
            failure = mapping.collection_failure(made if made is not None else upd)
            results[oid] = mapping.error_result(oid, failure or mapping.RecordFailure("UNKNOWN_ERROR"))
        return results

    def _upsert_bulk(self, batch: list[OpportunityRecord]) -> dict[str, UpsertResult]:
        cfg = self.config
        ext = cfg.fields.external_id
        new = [r for r in batch if r.is_new or r.crm_id is None]
        created: dict[str, dict[str, str]] = {}
        if new:
            today = self._today()
            rows = [mapping.bulk_row(mapping.create_fields(r, cfg, today)) for r in new]
            created = self._bulk_job("insert", rows, ext)
        owned_rows = [mapping.bulk_row(mapping.owned_fields(r, cfg)) for r in batch]
        updated = self._bulk_job("upsert", owned_rows, ext)
        results: dict[str, UpsertResult] = {}
        for record in batch:
            oid = record.opportunity_id
            made, upd = created.get(oid), updated.get(oid)
            if made is not None and made.get("sf__Id"):
                results[oid] = UpsertResult(opportunity_id=oid, crm_id=made["sf__Id"], created=True)
            elif upd is not None and upd.get("sf__Id") and upd.get("sf__Created") == "false":
                results[oid] = UpsertResult(opportunity_id=oid, crm_id=upd["sf__Id"], created=False)
            else:
                source = made if made is not None else upd
                error = (source or {}).get("sf__Error") or "UNPROCESSED:not processed by the bulk job:"
                results[oid] = mapping.error_result(oid, mapping.bulk_failure(error))
        return results

    def _bulk_job(self, operation: str, rows: list[dict[str, str]], ext: str) -> dict[str, dict[str, str]]:
        """Run one Bulk API 2.0 ingest job; per-row results (successful and failed) keyed by external id."""
        wait = self.config.bulk_poll_seconds

        def run(sf: Salesforce) -> dict[str, dict[str, str]]:
            bulk = cast(SFBulk2Handler, sf.bulk2).Opportunity
            if operation == "insert":
                summaries = bulk.insert(records=rows, wait=wait)
            else:
                summaries = bulk.upsert(records=rows, external_id_field=ext, wait=wait)
            out: dict[str, dict[str, str]] = {}
            for summary in summaries:
                job_id = str(summary["job_id"])
                for text in (bulk.get_successful_records(job_id), bulk.get_failed_records(job_id)):
                    for row in csv.DictReader(io.StringIO(text)):
                        out[row.get(ext, "")] = row
            return out

        return self._call(run, f"bulk {operation}")

    # ------------------------------------------------------------------ team members

    def team_selling_enabled(self) -> bool:
        """Whether the org has Team Selling (OpportunityTeamMember exists); asked once, by describe."""
        if self._team_selling is None:
            try:
                self._call(lambda sf: sf.restful("sobjects/OpportunityTeamMember/describe"), "describe team")
                self._team_selling = True
            except Rejected as exc:
                if exc.status != 404:
                    raise
                self._team_selling = False
        return self._team_selling

    def _add_team_members(self, batch: list[OpportunityRecord], results: Mapping[str, UpsertResult]) -> None:
        users = self._user_ids()
        rows: list[tuple[str, str]] = []
        for record in batch:
            result = results[record.opportunity_id]
            if not result.ok or result.crm_id is None:
                continue
            emails = [record.originator.email, *(c.email for c in record.contributors)]
            for email in dict.fromkeys(e.lower() for e in emails):
                user_id = users.get(email)
                if user_id and (result.crm_id, user_id) not in self._team_done:
                    rows.append((result.crm_id, user_id))
        rows = list(dict.fromkeys(rows))
        if not rows or not self.team_selling_enabled():
            return  # without Team Selling, credit lives in the Opportunity's contributor fields alone
        if len(rows) > self.config.bulk_threshold:
            self._add_team_members_bulk(rows)
            return
        for start in range(0, len(rows), COLLECTION_SIZE):
            part = rows[start : start + COLLECTION_SIZE]
            body = {"allOrNone": False, "records": [mapping.team_member(o, u, self.config) for o, u in part]}
            reply = self._call(partial(_restful, "composite/sobjects", "POST", body), "team")
            for pair, item in zip(part, _as_list(reply, len(part)), strict=True):
                failure = mapping.collection_failure(item)
                if failure is None:
                    self._team_done.add(pair)
                else:
                    # The Opportunity itself is synced; the next sync retries the missing team row.
                    log.warning("salesforce.team_member_rejected", extra={"code": failure.code})

    def _add_team_members_bulk(self, rows: list[tuple[str, str]]) -> None:
        records = [mapping.bulk_row(mapping.team_member(o, u, self.config)) for o, u in rows]
        for record in records:
            record.pop("attributes", None)
        wait = self.config.bulk_poll_seconds

        def run(sf: Salesforce) -> int:
            bulk = cast(SFBulk2Handler, sf.bulk2).OpportunityTeamMember
            failed = 0
            for summary in bulk.insert(records=records, wait=wait):
                text = bulk.get_successful_records(str(summary["job_id"]))
                for row in csv.DictReader(io.StringIO(text)):
                    self._team_done.add((row.get("OpportunityId", ""), row.get("UserId", "")))
                failed += int(summary["numberRecordsFailed"])
            return failed

        failed = self._call(run, "bulk team")
        if failed:
            log.warning("salesforce.team_members_rejected", extra={"count": failed})

    def _user_ids(self) -> dict[str, str]:
        if self._users is None:
            for _ in self.pull_users(None):
                pass
        return self._users or {}

    # ------------------------------------------------------------------ reads

    def _query(self, soql: str, what: str) -> Iterator[dict[str, Any]]:
        page: Any = self._call(lambda sf: sf.query(soql), what)
        while True:
            yield from page.get("records", [])
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self._call(partial(_query_more, str(next_url)), what)

    def pull_accounts(self, since: datetime | None) -> Iterator[AccountRecord]:
        """Accounts changed at or after ``since`` (all when None), oldest first, by SystemModstamp."""
        soql = mapping.incremental_soql(mapping.ACCOUNT_FIELDS, "Account", since)
        for row in self._query(soql, "pull accounts"):
            yield mapping.account_from_row(row)

    def pull_users(self, since: datetime | None) -> Iterator[UserRecord]:
        """Users changed at or after ``since``; also refreshes the e-mail -> User Id cache for team members."""
        soql = mapping.incremental_soql(mapping.USER_FIELDS, "User", since)
        cache = dict(self._users or {}) if since is not None else {}
        for row in self._query(soql, "pull users"):
            user = mapping.user_from_row(row)
            if user.email:
                if user.active:
                    cache[user.email.lower()] = user.crm_id
                else:
                    cache.pop(user.email.lower(), None)
            yield user
        self._users = cache

    def pull_outcomes(self, opportunity_ids: Sequence[str]) -> Iterator[OutcomeRecord]:
        """Stage, amount, close date and won/lost (from IsClosed/IsWon) of these opportunities."""
        ext = self.config.fields.external_id
        fields = ", ".join(mapping.outcome_fields(self.config))
        ids = list(dict.fromkeys(opportunity_ids))
        for start in range(0, len(ids), _SOQL_IN_CHUNK):
            values = ", ".join(mapping.soql_string(i) for i in ids[start : start + _SOQL_IN_CHUNK])
            soql = f"SELECT {fields} FROM Opportunity WHERE {ext} IN ({values})"
            yield from self._outcomes(list(self._query(soql, "pull outcomes")))

    def _outcomes(self, rows: list[dict[str, Any]]) -> Iterator[OutcomeRecord]:
        """Outcomes of these Opportunity rows, with when each entered its stage (OpportunityHistory) and the
        org's currency for amounts that name none (orgs without multiple currencies have no CurrencyIsoCode)."""
        if not rows:
            return
        entered = self._stage_entered({str(r["Id"]): r.get("StageName") for r in rows})
        needs_currency = any(r.get("Amount") is not None and not r.get("CurrencyIsoCode") for r in rows)
        currency = self._org_currency() if needs_currency else None
        for row in rows:
            yield mapping.outcome_from_row(
                row, self.config, stage_changed_at=entered.get(str(row["Id"])), currency=currency
            )

    def _stage_entered(self, current: Mapping[str, Any]) -> dict[str, datetime]:
        """When each Opportunity entered its current stage: the oldest row of the newest run of that StageName in
        its OpportunityHistory ("Represents the stage history of an opportunity", object reference)."""
        out: dict[str, datetime] = {}
        ids = list(current)
        for start in range(0, len(ids), _SOQL_IN_CHUNK):
            values = ", ".join(mapping.soql_string(i) for i in ids[start : start + _SOQL_IN_CHUNK])
            soql = (
                "SELECT OpportunityId, StageName, CreatedDate FROM OpportunityHistory "
                f"WHERE OpportunityId IN ({values}) ORDER BY CreatedDate DESC"
            )
            ended: set[str] = set()
            for row in self._query(soql, "stage history"):
                oid = str(row.get("OpportunityId"))
                if oid in ended:
                    continue
                if row.get("StageName") != current.get(oid):
                    ended.add(oid)
                    continue
                at = mapping.parse_sf_datetime(row.get("CreatedDate"))
                if at is not None:
                    out[oid] = at
        return out

    def _org_currency(self) -> str | None:
        """The org's currency (Organization.DefaultCurrencyIsoCode), read once."""
        if self._currency is None:
            rows = list(self._query("SELECT DefaultCurrencyIsoCode FROM Organization", "org currency"))
            self._currency = str(rows[0].get("DefaultCurrencyIsoCode") or "") if rows else ""
        return self._currency or None

    def pull_outcomes_since(self, since: datetime | None) -> Iterator[OutcomeRecord]:
        """Outcomes of every synced Opportunity changed at or after ``since``: the polling reconciliation."""
        ext = self.config.fields.external_id
        soql = mapping.incremental_soql(mapping.outcome_fields(self.config), "Opportunity", since, f"{ext} != null")
        rows = list(self._query(soql, "pull outcomes"))
        for start in range(0, len(rows), _SOQL_IN_CHUNK):
            yield from self._outcomes(rows[start : start + _SOQL_IN_CHUNK])

    # ------------------------------------------------------------------ merges

    def close_duplicates(self, closures: Sequence[DuplicateClosure]) -> list[ClosureResult]:
        """Close each merged-away Opportunity as Salesforce users close a duplicate: a closed, not-won stage
        (from OpportunityStage metadata, never a label), the loss reason "Duplicate" and a lookup to the
        survivor, by one sObject Collections update per 200 (``PATCH composite/sobjects``, "Update Multiple
        Records", https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_update.htm).
        Setting the same values again is harmless, so a retry is safe; an Opportunity a seller deleted
        (ENTITY_IS_DELETED) has nothing left to close."""
        if not closures:
            return []
        f, stage = self.config.fields, self._lost_stage()
        out: list[ClosureResult] = []
        for start in range(0, len(closures), COLLECTION_SIZE):
            chunk = closures[start : start + COLLECTION_SIZE]
            records = [
                mapping.sobject(
                    "Opportunity",
                    {
                        "Id": c.crm_id,
                        "StageName": stage,
                        f.loss_reason: self.config.duplicate_loss_reason,
                        f.duplicate_of: c.survivor_crm_id,
                    },
                )
                for c in chunk
            ]
            body = {"allOrNone": False, "records": records}
            reply = self._call(partial(_restful, "composite/sobjects", "PATCH", body), "close duplicates")
            for c, item in zip(chunk, _as_list(reply, len(chunk)), strict=True):
                failure = mapping.collection_failure(item)
                if failure is None or failure.code == "ENTITY_IS_DELETED":
                    url = self.record_url(c.survivor_crm_id)
                    out.append(
                        ClosureResult(
                            opportunity_id=c.opportunity_id, survivor_crm_id=c.survivor_crm_id, survivor_url=url
                        )
                    )
                else:
                    out.append(
                        ClosureResult(
                            opportunity_id=c.opportunity_id,
                            error_code=failure.code,
                            error_message=f"Salesforce close duplicates: {failure.code} ({', '.join(failure.fields)})",
                        )
                    )
        return out

    def _lost_stage(self) -> str:
        if self.config.lost_stage:
            return self.config.lost_stage
        if self._lost is None:
            rows = list(
                self._query(
                    "SELECT ApiName FROM OpportunityStage WHERE IsClosed = true AND IsWon = false AND IsActive = true",
                    "lost stage",
                )
            )
            if not rows:
                raise Rejected(
                    "Salesforce: the org has no active closed, not-won stage", code="NO_LOST_STAGE", field="StageName"
                )
            self._lost = str(rows[0]["ApiName"])
        return self._lost

    # ------------------------------------------------------------------ setup, webhooks, links

    def setup(self) -> list[str]:
        """Create missing custom fields (Tooling API), grant the integration user access to them (a permission
        set with field permissions, assigned to that user), and verify it by describe; return what was created.

        Fields created through the Tooling API are invisible to every user until field-level security grants
        them, so creating them is not enough. Raises ``Rejected`` when the key field is not External ID + Unique,
        when fields are missing and creation is disabled, when the grant cannot be made or does not take effect
        (FIELD_PERMISSION_MISSING, naming the permission set an admin must assign), or when the initial stage
        is not an active open stage.
        """
        check = check_fields(self._describe_opportunity(), self.config)
        if not check.external_id_usable:
            raise Rejected(
                f"Salesforce setup: {self.config.fields.external_id} must be External ID and Unique",
                code="EXTERNAL_ID_NOT_UNIQUE",
                field=self.config.fields.external_id,
            )
        if check.missing and not self.config.create_missing_fields:
            names = ", ".join(spec.name for spec in check.missing)
            raise Rejected(
                f"Salesforce setup: missing Opportunity fields {names}",
                code="MISSING_CUSTOM_FIELDS",
                field=check.missing[0].name,
            )
        created = []
        for spec in check.missing:
            body = spec.tooling_body()
            try:
                self._call(partial(_restful, "tooling/sobjects/CustomField", "POST", body), "setup")
            except Rejected as exc:
                if exc.code != "DUPLICATE_DEVELOPER_NAME":
                    raise
                continue  # it exists but this user cannot see it yet: the grant below fixes that
            created.append(f"Opportunity.{spec.name}")
        created.extend(self._grant_field_access())
        unusable = check_fields(self._describe_opportunity(), self.config)
        if unusable.missing or unusable.read_only:
            name = (unusable.missing or unusable.read_only)[0].name
            raise Rejected(
                f"Salesforce setup: the integration user cannot edit Opportunity.{name}; assign the permission set "
                f"{self.config.permission_set_name} to it (Setup > Permission Sets) or grant field-level security",
                code="FIELD_PERMISSION_MISSING",
                field=name,
            )
        stage = mapping.soql_string(self.config.initial_stage)
        rows = list(
            self._query(f"SELECT ApiName, IsClosed, IsActive FROM OpportunityStage WHERE ApiName = {stage}", "setup")
        )
        if not rows or rows[0].get("IsClosed") or not rows[0].get("IsActive", True):
            raise Rejected(
                "Salesforce setup: the initial stage is not an active open stage",
                code="INVALID_INITIAL_STAGE",
                field="StageName",
            )
        return created

    def _describe_opportunity(self) -> Mapping[str, Any]:
        reply: Any = self._call(lambda sf: sf.restful("sobjects/Opportunity/describe"), "setup")
        return reply if isinstance(reply, Mapping) else {}

    def _grant_field_access(self) -> list[str]:
        """Ensure the permission set, its Read+Edit field permissions on our fields, and its assignment to the
        integration user (FieldPermissions and PermissionSetAssignment, object reference); idempotent."""
        cfg = self.config
        done: list[str] = []
        name = mapping.soql_string(cfg.permission_set_name)
        try:
            found = list(self._query(f"SELECT Id FROM PermissionSet WHERE Name = {name}", "setup"))
            if found:
                ps_id = str(found[0]["Id"])
            else:
                body = {"Name": cfg.permission_set_name, "Label": cfg.permission_set_label}
                ps_id = str(self._call(partial(_restful, "sobjects/PermissionSet", "POST", body), "setup")["id"])
                done.append(f"PermissionSet.{cfg.permission_set_name}")
            granted = {
                str(r["Field"])
                for r in self._query(
                    f"SELECT Field FROM FieldPermissions WHERE ParentId = {mapping.soql_string(ps_id)}", "setup"
                )
            }
            wanted = [f"Opportunity.{spec.name}" for spec in custom_field_specs(cfg)]
            todo = [f for f in wanted if f not in granted]
            if todo:
                records = [
                    mapping.sobject(
                        "FieldPermissions",
                        {
                            "ParentId": ps_id,
                            "SobjectType": "Opportunity",
                            "Field": f,
                            "PermissionsRead": True,
                            "PermissionsEdit": True,
                        },
                    )
                    for f in todo
                ]
                reply = self._call(
                    partial(_restful, "composite/sobjects", "POST", {"allOrNone": True, "records": records}), "setup"
                )
                failure = next((f for f in map(mapping.collection_failure, _as_list(reply, len(todo))) if f), None)
                if failure is not None:
                    raise Rejected(f"Salesforce setup: field permissions refused: {failure.code}", code=failure.code)
                done.extend(f"FieldPermissions.{f}" for f in todo)
            user_id = self._integration_user_id()
            assigned = list(
                self._query(
                    "SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = "
                    f"{mapping.soql_string(user_id)} AND PermissionSetId = {mapping.soql_string(ps_id)}",
                    "setup",
                )
            )
            if not assigned:
                body = {"AssigneeId": user_id, "PermissionSetId": ps_id}
                self._call(partial(_restful, "sobjects/PermissionSetAssignment", "POST", body), "setup")
                done.append(f"PermissionSetAssignment.{cfg.permission_set_name}")
        except Rejected as exc:
            raise Rejected(
                f"Salesforce setup: could not grant field access through permission set {cfg.permission_set_name} "
                f"({exc.code}); the integration user needs 'Assign Permission Sets', or an admin assigns it",
                code="FIELD_PERMISSION_MISSING",
                field=exc.field,
                status=exc.status,
            ) from None
        return done

    def _integration_user_id(self) -> str:
        if not self.config.username:
            raise Rejected(
                "Salesforce setup: SALESFORCE_USERNAME names the integration user to grant field access to",
                code="INTEGRATION_USER_UNKNOWN",
            )
        rows = list(
            self._query(f"SELECT Id FROM User WHERE Username = {mapping.soql_string(self.config.username)}", "setup")
        )
        if not rows:
            raise Rejected("Salesforce setup: the integration user was not found", code="INTEGRATION_USER_UNKNOWN")
        return str(rows[0]["Id"])

    def verify_webhook(self, raw: RawRequest) -> list[OutcomeRecord]:
        """Salesforce has no signed webhooks for Opportunity changes; outcomes come by polling."""
        raise WebhookRejected("not supported: Salesforce outcomes are read by polling (pull_outcomes_since)")

    def record_url(self, crm_id: str) -> str:
        base = self._instance_url or self.config.login_url.rstrip("/")
        return f"{base}/lightning/r/Opportunity/{crm_id}/view"

    def request_cost(self, records: Sequence[OpportunityRecord]) -> float:
        """One collection upsert, plus one call per 200 OpportunityTeamMember rows."""
        return 1.0 + -(-sum(len(r.contributors) for r in records) // COLLECTION_SIZE)

    def refresh(self) -> bool:
        """Nothing left to renew: every call already re-authenticates once itself when OAuth credentials exist."""
        return False


def _restful(path: str, method: str, body: Any, sf: Salesforce) -> Any:
    return sf.restful(path, method=method, json=body)


def _query_more(next_url: str, sf: Salesforce) -> Any:
    return sf.query_more(next_url, identifier_is_url=True)


def _basic(user: str, secret: str) -> str:
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def _first_error(content: Any) -> tuple[str | None, str | None]:
    """errorCode and first field of a Salesforce error array, tolerating other shapes."""
    first = content[0] if isinstance(content, list) and content else content
    if not isinstance(first, Mapping):
        return None, None
    code = first.get("errorCode") or first.get("statusCode")
    fields = first.get("fields") or []
    return (str(code) if code else None), (str(fields[0]) if fields else None)


def _as_list(body: Any, expected: int) -> list[Mapping[str, Any]]:
    """A collections result list, checked to hold exactly one item per record sent."""
    if not isinstance(body, list) or len(body) != expected or not all(isinstance(i, Mapping) for i in body):
        raise Retryable("Salesforce: collections response does not match the records sent", code="INCOMPLETE_RESPONSE")
    return body
