"""Jira Cloud as a capture source: the admin webhook for issue created/updated posts here; an issue with the
configured label (or of the configured issue type) becomes a signal from its reporter; once the opportunity is
in the CRM, a comment on the issue links it.

- admin webhooks with a secret are signed ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` (WebSub),
  with no timestamp: https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks;
  a replay is stopped by idempotency (the issue id is the source reference), not by a window;
- payload (``webhookEvent``, ``issue.fields``): https://developer.atlassian.com/cloud/jira/platform/webhooks/#example-callback-for-an-issue-related-event;
- reporter e-mail is present only when the user's profile visibility allows it
  (https://developer.atlassian.com/cloud/jira/platform/profile-visibility/); without it the request is 422;
- comments, REST v2 (plain-text body), with the ``jira`` client: https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comments/#api-rest-api-2-issue-issueidorkey-comment-post.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from jira import JIRA, JIRAError
from pydantic import ValidationError

from integrations.capture import (
    CaptureContext,
    CaptureError,
    CaptureInvalid,
    CaptureRejected,
    RawRequest,
    Reply,
    header,
    hmac_sha256,
    kind_from_tags,
    signatures_match,
)
from integrations.jira.settings import JiraSettings
from schemas.capture import CaptureNotice, shorten_title
from schemas.signals import SignalCreate

EVENTS = frozenset({"jira:issue_created", "jira:issue_updated"})


class JiraSource:
    name: ClassVar[str] = "jira"
    routes: ClassVar[tuple[str, ...]] = ("",)
    follows: ClassVar[frozenset[str]] = frozenset({"opportunity.synced"})

    def __init__(self, settings: JiraSettings, client: JIRA | None = None) -> None:
        self.settings = settings
        self.rate_limit_per_minute = settings.rate_limit_per_minute
        self._client = client

    def verify(self, raw: RawRequest) -> None:
        given = header(raw, "X-Hub-Signature") or ""
        expected = "sha256=" + hmac_sha256(self.settings.webhook_secret.get_secret_value().encode(), raw.body).hex()
        if not signatures_match(expected, given):
            raise CaptureRejected("signature does not match")

    def receive(self, route: str, raw: RawRequest, ctx: CaptureContext) -> Reply:
        try:
            body = json.loads(raw.body)
        except ValueError:
            raise CaptureInvalid("body", "must be JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("webhookEvent"), str):
            raise CaptureInvalid("webhookEvent", "is required")
        if body["webhookEvent"] not in EVENTS:
            return Reply(body={"captured": False, "reason": "not an issue created or updated event"})
        issue = body.get("issue")
        if not isinstance(issue, dict) or not isinstance(issue.get("fields"), dict):
            raise CaptureInvalid("issue.fields", "is required")
        fields = issue["fields"]
        if not self._marked(fields):
            return Reply(body={"captured": False, "reason": "issue is not marked as a signal"})
        draft = self._draft(issue, fields, body, ctx)
        result = ctx.capture(draft, {"issue_key": str(issue.get("key") or issue["id"])})
        return Reply(
            status=201 if result.created else 200,
            body={"captured": True, "signal_id": str(result.signal_id), "status": result.status},
        )

    def _marked(self, fields: dict[str, Any]) -> bool:
        labels = fields.get("labels") or []
        issue_type = (fields.get("issuetype") or {}).get("name")
        return self.settings.label in labels or (
            self.settings.issue_type is not None and issue_type == self.settings.issue_type
        )

    def _draft(
        self, issue: dict[str, Any], fields: dict[str, Any], body: dict[str, Any], ctx: CaptureContext
    ) -> SignalCreate:
        reporter = fields.get("reporter") or body.get("user") or {}
        email = reporter.get("emailAddress")
        if not email:
            raise CaptureInvalid("issue.fields.reporter.emailAddress", "is hidden or missing (profile visibility)")
        summary = str(fields.get("summary") or "")
        description = _text(fields.get("description"))
        customer = self._customer(fields)
        kind = kind_from_tags(fields.get("labels") or [], ctx.kinds)
        site = urlsplit(str(issue.get("self") or ""))
        url = f"{site.scheme}://{site.netloc}/browse/{issue.get('key')}" if site.netloc and issue.get("key") else None
        try:  # validated as one document, so an error names its full path (e.g. contributor.email)
            return SignalCreate.model_validate(
                {
                    "contributor": {"email": email, "name": reporter.get("displayName") or None},
                    "customer": {"name": customer},
                    "kind": kind or self.settings.default_kind,
                    "title": shorten_title(summary),
                    "body": f"{summary}\n\n{description}".strip(),
                    "source": {"system": self.name, "reference": f"issue:{issue.get('id')}", "url": url},
                }
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise CaptureInvalid(".".join(str(p) for p in first["loc"]), first["msg"]) from None

    def _customer(self, fields: dict[str, Any]) -> str:
        if self.settings.customer_field:
            value = fields.get(self.settings.customer_field)
            if isinstance(value, dict):
                value = value.get("value") or value.get("name")
            if not value:
                raise CaptureInvalid(f"issue.fields.{self.settings.customer_field}", "is required (the customer)")
            return str(value)
        name = (fields.get("project") or {}).get("name")
        if not name:
            raise CaptureInvalid("issue.fields.project.name", "is required (the customer)")
        return str(name)

    def process(self, payload: dict[str, Any], ctx: CaptureContext) -> None:
        """Nothing is deferred: the webhook has time to capture before answering."""

    def follow_up(self, notice: CaptureNotice) -> None:
        if notice.event not in self.follows or not notice.opportunity_url:
            return
        text = f"This issue is part of an opportunity in the CRM: {notice.opportunity_url}"
        try:
            self.client().add_comment(str(notice.reply_to["issue_key"]), text)
        except JIRAError as exc:
            status = exc.status_code or 0
            raise CaptureError(f"jira add_comment: HTTP {status}", retryable=status == 429 or status >= 500) from None
        except requests.RequestException as exc:
            raise CaptureError(f"jira add_comment: {type(exc).__name__}", retryable=True) from None

    def client(self) -> JIRA:
        if self._client is None:
            s = self.settings
            if not (s.base_url and s.email and s.api_token):
                raise CaptureError(
                    "Jira comments need SIGNAL_PIPELINE_JIRA_BASE_URL, _EMAIL and _API_TOKEN", retryable=False
                )
            # Retries are ours (the task queue backs off); the client's own would sleep inside a worker.
            self._client = JIRA(
                server=s.base_url,
                basic_auth=(s.email, s.api_token.get_secret_value()),
                get_server_info=False,
                max_retries=0,
                timeout=s.timeout_seconds,
            )
        return self._client


def _text(value: Any) -> str:
    """A description as text: REST v2 sends a string; Atlassian Document Format is a tree of text nodes."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        own = value.get("text", "") if value.get("type") == "text" else ""
        inner = [_text(c) for c in value.get("content") or []]
        sep = "\n" if value.get("type") in ("doc",) else ""
        return own + sep.join(inner)
    return ""
