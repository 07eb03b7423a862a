"""The hubspot-api-client objects the adapter uses, and the one place HubSpot errors become ``base`` errors.

Each SDK sub-package has its own ApiException class (they are not interchangeable), so errors are caught by a
tuple of all of them. The SDK's own urllib3 retry is switched off: the sync worker's tenacity is the one retry
layer, and urllib3 would not retry POSTs anyway.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import exceptions as assoc_exc
from hubspot.crm.companies import exceptions as companies_exc
from hubspot.crm.deals import exceptions as deals_exc
from hubspot.crm.owners import exceptions as owners_exc
from hubspot.crm.pipelines import exceptions as pipelines_exc
from hubspot.crm.properties import exceptions as properties_exc

from integrations.base import AuthExpired, CRMError, RateLimited, Rejected, Retryable
from integrations.hubspot.config import HubSpotConfig

T = TypeVar("T")

_PACKAGES = (assoc_exc, companies_exc, deals_exc, owners_exc, pipelines_exc, properties_exc)
_API_EXCEPTIONS: tuple[type[Exception], ...] = tuple(p.ApiException for p in _PACKAGES)
# Raised by the SDK while checking *our* request arguments: a bug here, never worth a retry.
_ARGUMENT_ERRORS: tuple[type[Exception], ...] = tuple(
    cls for p in _PACKAGES for cls in (p.ApiValueError, p.ApiTypeError)
)


class WholeBatchRejected(CRMError):
    """A 400/409 refusing a whole batch write; the adapter bisects to find the bad input."""

    def __init__(self, message: str, *, code: str, field: str | None, status: int, request_id: str | None) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.field = field


@dataclass(frozen=True)
class HubSpotApis:
    """SDK API objects, built once: each discovery attribute access would build a new ApiClient."""

    deals_batch: Any
    deals_basic: Any
    companies_basic: Any
    companies_search: Any
    owners: Any
    pipelines: Any
    properties_core: Any
    properties_groups: Any
    associations_batch: Any

    @classmethod
    def build(cls, config: HubSpotConfig) -> HubSpotApis:
        base = config.base_url.rstrip("/")
        client = HubSpot(
            access_token=config.access_token,
            host=base,
            base_url=base,  # api_request() ignores host (see reference a12)
            client_side_validation=True,
            retry=False,
        )
        crm = client.crm
        return cls(
            deals_batch=crm.deals.batch_api,
            deals_basic=crm.deals.basic_api,
            companies_basic=crm.companies.basic_api,
            companies_search=crm.companies.search_api,
            owners=crm.owners.owners_api,
            pipelines=crm.pipelines.pipelines_api,
            properties_core=crm.properties.core_api,
            properties_groups=crm.properties.groups_api,
            associations_batch=crm.associations.v4.batch_api,
        )


@dataclass(frozen=True)
class ErrorInfo:
    """What we keep of a HubSpot error body: codes and ids, never the message (it can quote customer data)."""

    status: int
    category: str | None
    code: str | None
    field: str | None
    correlation_id: str | None
    context: Mapping[str, list[str]]


PROPERTY_ERRORS_PREFIX = "Property values were not valid: "


def _embedded_property_failures(message: Any) -> list[dict[str, Any]]:
    """The per-property results HubSpot embeds as JSON in a validation message; a real 207 entry carries its
    code only there (``"error": "INVALID_OPTION", "name": "industry"``; hotgluexyz/target-hubspot-v4
    ``batch_company_partial_error_test`` cassette; https://developers.hubspot.com/changelog/deal-currenct-code-validation)."""
    if not isinstance(message, str) or not message.startswith(PROPERTY_ERRORS_PREFIX):
        return []
    try:
        failures = json.loads(message[len(PROPERTY_ERRORS_PREFIX) :])
    except ValueError:
        return []
    return [f for f in failures if isinstance(f, dict)] if isinstance(failures, list) else []


def error_info(status: int, body: Any) -> ErrorInfo:
    """Codes and ids of a HubSpot error body or 207 entry. The code comes from ``errors[].code`` (whole-request
    errors), else from the property failures embedded in the message (207 entries), else ``subCategory``."""
    data: Any = body
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body or "{}")
        except ValueError:
            data = {}
    if not isinstance(data, dict):
        data = {}
    details = data.get("errors") or []
    first = details[0] if details and isinstance(details[0], dict) else {}
    embedded = _embedded_property_failures(data.get("message"))
    first_embedded = embedded[0] if embedded else {}
    ctx = data.get("context") if isinstance(data.get("context"), dict) else {}
    names = (first.get("context") or {}).get("propertyName") or (ctx or {}).get("propertyName") or []
    if not names and first_embedded.get("name"):
        names = [first_embedded["name"]]
    sub = data.get("subCategory")
    return ErrorInfo(
        status=status,
        category=data.get("category"),
        code=first.get("code") or first_embedded.get("error") or (sub if isinstance(sub, str) else None),
        field=str(names[0]) if names else None,
        correlation_id=data.get("correlationId") or data.get("requestId"),
        context=ctx or {},
    )


@dataclass(frozen=True)
class BatchAnswer:
    """A batch endpoint's answer read as JSON by the adapter itself.

    hubspot-api-client 12's ``StandardError`` requires ``links``, which a real 207 entry does not carry, so with
    ``client_side_validation=True`` the SDK would refuse every real partial success. Batch endpoints are
    therefore called with ``_preload_content=False`` and their JSON is checked here instead: results are
    objects with an ``id`` (``fromObjectId`` for associations); errors are objects with a ``category``.
    """

    status: int
    results: list[dict[str, Any]]
    errors: list[dict[str, Any]]


def batch_answer(op: str, response: Any, *, key: str = "id") -> BatchAnswer:
    try:
        data = json.loads(response.data or b"{}")
    except ValueError:
        data = None
    results = data.get("results") if isinstance(data, dict) else None
    errors = (data.get("errors") or []) if isinstance(data, dict) else None
    if (
        not isinstance(results, list)
        or not isinstance(errors, list)
        or not all(isinstance(r, dict) and r.get(key) is not None for r in results)
        or not all(isinstance(e, dict) and isinstance(e.get("category"), str) for e in errors)
    ):
        raise Retryable(f"HubSpot {op}: malformed batch response", code="MALFORMED_RESPONSE")
    return BatchAnswer(int(response.status), results, errors)


def _retry_after(
    headers: Mapping[str, str] | None, default: float | None, *, use_interval: bool = True
) -> float | None:
    """Retry-After if sent (UNVERIFIED for HubSpot), else the rate window length, else ``default``."""
    if not headers:
        return default
    lowered = {k.lower(): v for k, v in headers.items()}
    keys = [("retry-after", 1.0)]
    if use_interval:
        keys.append(("x-hubspot-ratelimit-interval-milliseconds", 0.001))
    for key, scale in keys:
        try:
            return float(lowered[key]) * scale
        except (KeyError, ValueError):
            continue
    return default


def describe(op: str, info: ErrorInfo) -> str:
    code = f"/{info.code}" if info.code else ""
    return f"HubSpot {op}: HTTP {info.status} {info.category or 'error'}{code} (correlationId={info.correlation_id})"


def call(op: str, fn: Callable[[], T], *, default_retry_after: float, batch_write: bool = False) -> T:
    """Run one SDK call and translate every failure into the ``integrations.base`` taxonomy.

    With ``batch_write``, a 400/409 becomes ``WholeBatchRejected`` so the caller can bisect.
    """
    try:
        return fn()
    except _ARGUMENT_ERRORS:
        raise
    except _API_EXCEPTIONS as exc:
        status = int(getattr(exc, "status", 0) or 0)
        headers = getattr(exc, "headers", None)
        info = error_info(status, getattr(exc, "body", None))
        msg = describe(op, info)
        cid = info.correlation_id
        if status == 0:
            raise Retryable(f"HubSpot {op}: connection failed", code="CONNECTION") from None
        if status == 401:
            raise AuthExpired(msg, status=status, code=info.category, request_id=cid) from None
        if status == 429:
            raise RateLimited(
                msg,
                retry_after=_retry_after(headers, default_retry_after),
                status=status,
                code=info.category or "RATE_LIMIT",
                request_id=cid,
            ) from None
        if status == 423:
            # HubSpot asks for at least 2 s between requests when it answers Locked
            raise Retryable(
                msg, retry_after=_retry_after(headers, 2.0), status=status, code="LOCKED", request_id=cid
            ) from None
        if status >= 500:
            raise Retryable(
                msg,
                retry_after=_retry_after(headers, None, use_interval=False),
                status=status,
                code=info.category,
                request_id=cid,
            ) from None
        if batch_write and status in (400, 409):
            raise WholeBatchRejected(
                msg, code=info.code or info.category or str(status), field=info.field, status=status, request_id=cid
            ) from None
        raise Rejected(
            msg, code=info.code or info.category or str(status), field=info.field, status=status, request_id=cid
        ) from None
    except urllib3.exceptions.HTTPError as exc:
        reason = getattr(exc, "reason", exc)
        # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.x, but it means "refused"
        timeout = not isinstance(reason, urllib3.exceptions.NewConnectionError) and isinstance(
            reason, urllib3.exceptions.TimeoutError
        )
        raise Retryable(
            f"HubSpot {op}: {'timed out' if timeout else 'connection failed'}",
            code="TIMEOUT" if timeout else "CONNECTION",
        ) from None
    except ValueError:
        # client_side_validation refused the response: a contract breach, possibly after the write committed.
        raise Retryable(f"HubSpot {op}: malformed response", code="MALFORMED_RESPONSE") from None
