"""The one typed interface every capture source (a chat or ticket tool) implements, next to the CRM one.

A capture source turns a request from its vendor into a signal, and tells the contributor what became of it:

1. ``verify`` the raw request (signature, replay window) or raise :class:`CaptureRejected` (the route answers 401);
2. ``receive`` it: answer now (a URL challenge, a picker's options, a card built after capturing the signal
   through the context) or hand back :class:`Deferred` work that the service stores in the request's transaction
   and runs right after answering (and again after a crash), so a vendor's short deadline is always met;
3. ``process`` deferred work (safe to repeat: the service runs it at least once);
4. ``follow_up`` a :class:`~schemas.capture.CaptureNotice` about a captured signal (safe to repeat).

Vendor types never leave the source's package: it takes :class:`RawRequest` and plain JSON, builds
``SignalCreate`` drafts, and reads the records of ``schemas.capture``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from integrations.base import RawRequest
from schemas.capture import AccountChoice, CapturedSignal, CaptureNotice
from schemas.signals import SignalCreate

__all__ = [
    "CaptureContext",
    "CaptureError",
    "CaptureInvalid",
    "CaptureRejected",
    "CaptureSource",
    "Deferred",
    "RawRequest",
    "Reply",
    "check_timestamp",
    "header",
    "hmac_sha256",
    "kind_from_tags",
    "signatures_match",
]


class CaptureRejected(Exception):
    """Signature missing or wrong, or the request is outside the replay window: the route answers 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CaptureInvalid(Exception):
    """A verified payload the source cannot read: the route answers 422 naming ``field``, and stores nothing."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class CaptureError(Exception):
    """A call to the vendor failed. ``retryable`` ones are tried again later; the others are given up."""

    def __init__(self, message: str, *, retryable: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


@dataclass(frozen=True)
class Reply:
    """The HTTP answer to the vendor: ``body`` is sent as JSON (a dict) or as text; None sends an empty body."""

    status: int = 200
    body: dict[str, Any] | str | None = None


@dataclass(frozen=True)
class Deferred:
    """Work to do after answering. ``key`` identifies the delivery: a retried delivery with the same key is
    stored once and processed once. ``payload`` is the verified, parsed request, kept until processed."""

    key: str
    payload: dict[str, Any]
    reply: Reply = field(default_factory=Reply)


class CaptureContext(Protocol):
    """What the service offers a source while it receives or processes a request."""

    @property
    def kinds(self) -> Sequence[str]:
        """The signal kinds the service accepts, in display order."""
        ...

    def find_accounts(self, query: str, limit: int) -> list[AccountChoice]:
        """Accounts of the directory matching ``query`` (name, alias, domain or CRM id), at most ``limit``."""
        ...

    def capture(self, draft: SignalCreate, reply_to: Mapping[str, Any]) -> CapturedSignal:
        """Ingest ``draft`` like POST /v1/signals (validation, attribution, dedup; a repeat of the same source
        reference answers the first signal with ``created=False``) and remember ``reply_to`` for follow-ups."""
        ...


@runtime_checkable
class CaptureSource(Protocol):
    """A chat or ticket tool behind one interface, mounted at ``/capture/{name}/{route}``."""

    name: ClassVar[str]
    routes: ClassVar[tuple[str, ...]]  # sub-paths it answers; "" is /capture/{name} itself
    follows: ClassVar[frozenset[str]]  # notification event kinds it tells the contributor about
    rate_limit_per_minute: int  # requests per minute its routes accept, from its settings

    def verify(self, raw: RawRequest) -> None:
        """Raise :class:`CaptureRejected` unless the request is authentic and fresh."""
        ...

    def receive(self, route: str, raw: RawRequest, ctx: CaptureContext) -> Reply | Deferred:
        """Answer a verified request, or defer its work; :class:`CaptureInvalid` for an unreadable payload."""
        ...

    def process(self, payload: dict[str, Any], ctx: CaptureContext) -> None:
        """Do deferred work; raise :class:`CaptureError` when the vendor failed. Safe to run again."""
        ...

    def follow_up(self, notice: CaptureNotice) -> None:
        """Tell the contributor (or the ticket) what became of their signal. Safe to run again."""
        ...


# Signature helpers shared by the sources, so each vendor's rule is a line of configuration, not a new copy.


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def signatures_match(expected: bytes | str, given: str | None) -> bool:
    """Constant-time comparison of an expected signature with a header value (missing -> False)."""
    if not given:
        return False
    wanted = expected if isinstance(expected, str) else base64.b64encode(expected).decode()
    return hmac.compare_digest(wanted.encode(), given.strip().encode())


def check_timestamp(value: str | None, *, window_seconds: int, now: float | None = None) -> None:
    """Reject a request whose timestamp header is missing, unreadable or further than the window from now."""
    if not value:
        raise CaptureRejected("timestamp header missing")
    try:  # Unix seconds (Slack) or ISO 8601 (Zendesk: "2021-03-25T05:09:27Z")
        stamp = float(value) if value.isdigit() else datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise CaptureRejected("timestamp header unreadable") from None
    if abs((time.time() if now is None else now) - stamp) > window_seconds:
        raise CaptureRejected("request timestamp outside the replay window")


def kind_from_tags(tags: Sequence[str], kinds: Sequence[str], prefix: str = "signal_") -> str | None:
    """The kind a ticket's tags or labels name as ``signal_<kind>``, if it is one the service accepts."""
    return next(
        (t.removeprefix(prefix) for t in tags if t.startswith(prefix) and t.removeprefix(prefix) in kinds), None
    )


def header(raw: RawRequest, name: str) -> str | None:
    """A request header by case-insensitive name."""
    wanted = name.lower()
    return next((v for k, v in raw.headers.items() if k.lower() == wanted), None)
