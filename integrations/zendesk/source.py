"""Zendesk as a capture source: a trigger (ticket tagged ``signal``) calls a webhook whose JSON body is the
template in the README; the ticket becomes a signal from the agent who tagged it, about the requester's company.

- signature: https://developer.zendesk.com/documentation/webhooks/verifying/ — ``X-Zendesk-Webhook-Signature``
  is base64(HMAC-SHA256(secret, timestamp + body)) with the timestamp of ``X-Zendesk-Webhook-Signature-Timestamp``;
- headers and the ISO 8601 timestamp: https://developer.zendesk.com/documentation/webhooks/anatomy-of-a-webhook-request;
- a trigger's webhook sends the JSON body the trigger defines, with placeholders such as ``{{ticket.id}}``:
  https://developer.zendesk.com/documentation/webhooks/creating-and-monitoring-webhooks/#connecting-a-webhook-to-a-trigger-or-automation.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from integrations.capture import (
    CaptureContext,
    CaptureInvalid,
    CaptureRejected,
    RawRequest,
    Reply,
    check_timestamp,
    header,
    hmac_sha256,
    kind_from_tags,
    signatures_match,
)
from integrations.zendesk.settings import ZendeskSettings
from schemas.capture import CaptureNotice, shorten_title
from schemas.signals import SignalCreate


class _Person(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: str = ""
    name: str = ""


class _Ticket(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | int
    title: str
    description: str = ""
    url: str = ""
    tags: str | list[str] = ""
    requester: _Person = Field(default_factory=_Person)
    organization: dict[str, Any] = Field(default_factory=dict)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")
    ticket: _Ticket
    current_user: _Person


class ZendeskSource:
    name: ClassVar[str] = "zendesk"
    routes: ClassVar[tuple[str, ...]] = ("",)
    follows: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, settings: ZendeskSettings) -> None:
        self.settings = settings
        self.rate_limit_per_minute = settings.rate_limit_per_minute

    def verify(self, raw: RawRequest) -> None:
        timestamp = header(raw, "X-Zendesk-Webhook-Signature-Timestamp")
        check_timestamp(timestamp, window_seconds=self.settings.replay_window_seconds)
        assert timestamp is not None
        key = self.settings.webhook_secret.get_secret_value().encode()
        expected = hmac_sha256(key, timestamp.encode() + raw.body)
        if not signatures_match(expected, header(raw, "X-Zendesk-Webhook-Signature")):
            raise CaptureRejected("signature does not match")

    def receive(self, route: str, raw: RawRequest, ctx: CaptureContext) -> Reply:
        try:
            body = _Body.model_validate(json.loads(raw.body))
        except ValueError as exc:
            raise _invalid(exc) from None
        ticket = body.ticket
        tags = ticket.tags.split() if isinstance(ticket.tags, str) else ticket.tags
        if self.settings.tag not in tags:
            return Reply(body={"captured": False, "reason": f"ticket is not tagged {self.settings.tag}"})
        kind = kind_from_tags(tags, ctx.kinds)
        text = f"{ticket.title}\n\n{ticket.description}".strip()
        organization = str(ticket.organization.get("name") or "") or None
        url = ticket.url if ticket.url.startswith("http") or not ticket.url else f"https://{ticket.url}"
        try:
            # Validated as one document, so an error names its full path (e.g. contributor.email).
            draft = SignalCreate.model_validate(
                {
                    "contributor": {"email": body.current_user.email, "name": body.current_user.name or None},
                    "customer": {"email": ticket.requester.email or None, "name": organization},
                    "kind": kind or self.settings.default_kind,
                    "title": shorten_title(ticket.title),
                    "body": text,
                    "source": {"system": self.name, "reference": f"ticket:{ticket.id}", "url": url or None},
                }
            )
        except ValidationError as exc:
            raise _invalid(exc) from None
        result = ctx.capture(draft, {"ticket_id": str(ticket.id)})
        return Reply(
            status=201 if result.created else 200,
            body={"captured": True, "signal_id": str(result.signal_id), "status": result.status},
        )

    def process(self, payload: dict[str, Any], ctx: CaptureContext) -> None:
        """Nothing is deferred: a webhook has time to capture before answering."""

    def follow_up(self, notice: CaptureNotice) -> None:
        """Zendesk follows nothing yet (an internal note on the ticket would go here)."""


def _invalid(exc: ValueError) -> CaptureInvalid:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return CaptureInvalid(".".join(str(p) for p in first["loc"]) or "body", first["msg"])
    return CaptureInvalid("body", "must be JSON")
