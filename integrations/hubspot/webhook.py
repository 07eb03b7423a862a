"""HubSpot webhooks: v3 signature verification and parsing of ``deal.propertyChange`` deliveries.

Verification follows HubSpot's request-validation guide: reject timestamps more than five minutes away (we
check both directions, so a clock-skewed or forged future timestamp fails too), URL-decode a fixed set of
characters in the URI, then compare base64(HMAC-SHA256(secret, method + uri + body + timestamp)) in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from integrations.base import RawRequest, WebhookRejected
from integrations.hubspot.mapping import from_epoch_millis

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
OUTCOME_FIELDS = frozenset(
    {"dealstage", "amount", "closedate", "pipeline", "closed_lost_reason", "closed_won_reason", "deal_currency_code"}
)

# HubSpot decodes exactly these escapes before signing; everything else stays encoded.
_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for k, v in headers.items():
        if k.lower() == wanted:
            return v
    return None


def decode_uri(uri: str) -> str:
    out = uri
    for enc, dec in _DECODE.items():
        out = out.replace(enc, dec).replace(enc.lower(), dec)
    return out


def expected_signature(client_secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + decode_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(client_secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_signature_v3(raw: RawRequest, client_secret: str, *, tolerance_seconds: float = 300.0) -> None:
    """Raise WebhookRejected unless ``raw`` carries a valid v3 signature within the replay window.

    ``raw.url`` must be the public URL HubSpot called (rebuild it behind proxies); ``raw.received_at`` is "now".
    """
    signature = _header(raw.headers, SIGNATURE_HEADER)
    timestamp = _header(raw.headers, TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookRejected("missing signature or timestamp header")
    # Milliseconds since the epoch: 13 digits today; anything longer is not a time (and would overflow a float).
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 15:
        raise WebhookRejected("malformed timestamp")
    sent_at = int(timestamp) / 1000.0
    received = raw.received_at if raw.received_at.tzinfo else raw.received_at.replace(tzinfo=UTC)
    if abs(received.timestamp() - sent_at) > tolerance_seconds:
        raise WebhookRejected("timestamp outside the replay window")
    expected = expected_signature(client_secret, raw.method, raw.url, raw.body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise WebhookRejected("signature mismatch")


@dataclass(frozen=True)
class DealChange:
    """One ``deal.propertyChange`` event: which deal changed, which property, when."""

    deal_id: str
    property_name: str
    event_id: str
    occurred_at: datetime | None


def parse_deal_changes(body: bytes) -> list[DealChange]:
    """Outcome-relevant deal property changes in a delivery; other event types are ignored.

    Raises WebhookRejected for a body that is not HubSpot's JSON array of events.
    """
    try:
        events = json.loads(body or b"[]")
    except ValueError:
        raise WebhookRejected("body is not JSON") from None
    if not isinstance(events, list):
        raise WebhookRejected("body is not an event array")
    out: list[DealChange] = []
    for e in events:
        if not isinstance(e, dict) or e.get("subscriptionType") != "deal.propertyChange":
            continue
        if e.get("propertyName") not in OUTCOME_FIELDS or not _is_object_id(e.get("objectId")):
            continue
        out.append(
            DealChange(
                deal_id=str(e["objectId"]),
                property_name=str(e["propertyName"]),
                event_id=str(e.get("eventId", "")),
                occurred_at=from_epoch_millis(e.get("occurredAt")),
            )
        )
    return out


def _is_object_id(value: object) -> bool:
    """HubSpot object ids are positive integers (sent as numbers; strings of digits accepted too)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 < value < 2**63
    return isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19
