"""Microsoft Teams as a capture source: an outgoing webhook posts each message that @mentions it; the message
``@Signals <customer>: <what you noticed> #<kind>`` becomes a signal, answered in the thread with a card.

- verification: https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-outgoing-webhook
  (``Authorization: HMAC <base64(HMAC-SHA256(base64-decoded security token, body))>``; no timestamp, so a replay is
  stopped by idempotency: the message id is the source reference), answer within 5 seconds, with a message;
- the activity carries ``from.id``, ``from.name`` and ``from.aadObjectId`` but no e-mail, and an outgoing webhook
  cannot call other APIs; contributors are therefore mapped from their Entra object id to their e-mail by the
  administrator (``SIGNAL_PIPELINE_TEAMS_CONTRIBUTORS``), never guessed from the display name;
- reply card: an Office 365 connector card in an attachment
  (https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#office-365-connector-card).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from typing import Any, ClassVar

from pydantic import ValidationError

from integrations.capture import (
    CaptureContext,
    CaptureInvalid,
    CaptureRejected,
    RawRequest,
    Reply,
    header,
    hmac_sha256,
    signatures_match,
)
from integrations.teams.settings import TeamsSettings
from schemas.capture import CapturedSignal, CaptureNotice, shorten_title
from schemas.signals import SignalCreate

_MENTION = re.compile(r"<at>.*?</at>", re.S)
_TAG = re.compile(r"<[^>]+>")
_KIND = re.compile(r"(?:^|\s)#([a-z][a-z0-9_]{0,39})\b")


class TeamsSource:
    name: ClassVar[str] = "teams"
    routes: ClassVar[tuple[str, ...]] = ("",)
    follows: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, settings: TeamsSettings) -> None:
        self.settings = settings
        self.rate_limit_per_minute = settings.rate_limit_per_minute
        try:
            self._key = base64.b64decode(settings.hmac_secret.get_secret_value(), validate=True)
        except binascii.Error:
            raise ValueError("SIGNAL_PIPELINE_TEAMS_HMAC_SECRET must be the base64 token Teams showed") from None

    def verify(self, raw: RawRequest) -> None:
        given = (header(raw, "Authorization") or "").strip()
        if not given.startswith("HMAC "):
            raise CaptureRejected("Authorization: HMAC header missing")
        if not signatures_match(hmac_sha256(self._key, raw.body), given[5:]):
            raise CaptureRejected("signature does not match")

    def receive(self, route: str, raw: RawRequest, ctx: CaptureContext) -> Reply:
        try:
            activity = json.loads(raw.body)
        except ValueError:
            raise CaptureInvalid("body", "must be JSON") from None
        if not isinstance(activity, dict) or activity.get("type") != "message":
            raise CaptureInvalid("type", "must be 'message'")
        sender = activity.get("from")
        if not isinstance(sender, dict) or not isinstance(activity.get("id"), str):
            raise CaptureInvalid("from", "is required, with id")
        email = self.settings.contributors.get(str(sender.get("aadObjectId") or ""))
        if email is None:
            return _card(
                "Not linked yet",
                f"Ask an administrator to add your id {sender.get('aadObjectId')} to the signal service.",
            )
        text = html.unescape(_TAG.sub(" ", _MENTION.sub(" ", str(activity.get("text") or "")))).strip()
        customer, _, what = text.partition(":")
        if not what.strip() or not customer.strip():
            return _card("How to send a signal", "@Signals <customer>: <what you noticed> #<kind>")
        kind_tag = _KIND.search(what)
        kind = kind_tag.group(1) if kind_tag and kind_tag.group(1) in ctx.kinds else self.settings.default_kind
        what = _KIND.sub(" ", what).strip()
        conversation = (activity.get("conversation") or {}).get("id") or "channel"
        try:  # validated as one document, so an error names its full path
            draft = SignalCreate.model_validate(
                {
                    "contributor": {"email": email, "name": sender.get("name") or None},
                    "customer": {"name": customer.strip()[:300]},
                    "kind": kind,
                    "title": shorten_title(what),
                    "body": what,
                    "source": {"system": self.name, "reference": f"{conversation}:{activity['id']}"[:200]},
                }
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise CaptureInvalid(".".join(str(p) for p in first["loc"]), first["msg"]) from None
        return _result_card(ctx.capture(draft, {"conversation": conversation}))

    def process(self, payload: dict[str, Any], ctx: CaptureContext) -> None:
        """Nothing is deferred: the answer is the card."""

    def follow_up(self, notice: CaptureNotice) -> None:
        """An outgoing webhook cannot post later; Teams follows nothing."""


def _card(title: str, text: str, facts: list[dict[str, str]] | None = None) -> Reply:
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "summary": title,
        "title": title,
        "text": text,
    }
    if facts:
        card["sections"] = [{"facts": facts}]
    attachment = {"contentType": "application/vnd.microsoft.teams.card.o365connector", "content": card}
    return Reply(body={"type": "message", "text": title, "attachments": [attachment]})


def _result_card(result: CapturedSignal) -> Reply:
    title = "Signal stored" if result.created else "Already stored"
    facts = [{"name": "Signal", "value": result.title}]
    if result.account_name:
        facts.append({"name": "Customer", "value": result.account_name})
        facts.append({"name": "Matched by", "value": f"{result.attribution_method} ({result.confidence or 0:.0%})"})
    else:
        facts.append({"name": "Customer", "value": "to be decided by a reviewer"})
    return _card(title, "Thanks: you will be credited when it becomes business.", facts)
