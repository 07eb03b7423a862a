"""Signatures of outbound notifications (Stripe-like).

Header ``X-Signal-Pipeline-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256(secret, f"{t}.{raw body}"). Receivers verify on the raw bytes, reject a ``t`` more than five
minutes from their clock (either way), and deduplicate on ``X-Signal-Pipeline-Event-Id``. Several ``v1``
values may appear (secret rotation); one valid value suffices.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "X-Signal-Pipeline-Signature"
EVENT_ID_HEADER = "X-Signal-Pipeline-Event-Id"
EVENT_TYPE_HEADER = "X-Signal-Pipeline-Event"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    if not secret:
        raise ValueError("refusing to sign with an empty secret")
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str, header: str | None, body: bytes, *, now: float | None = None, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` and its timestamp is within ``tolerance`` of now."""
    if not secret or not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, c) for c in candidates)
