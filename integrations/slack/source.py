"""Slack as a capture source: the `/signal` command and the "Send as signal" message shortcut open a modal; its
submission becomes a signal from the Slack user; the contributor hears back by DM.

Wire formats and rules, from Slack's documentation:
- signing: https://api.slack.com/authentication/verifying-requests-from-slack (``v0:{timestamp}:{body}``,
  HMAC-SHA256 with the signing secret, requests older than five minutes refused), checked with slack-sdk's
  ``SignatureVerifier``;
- slash commands (form-encoded): https://api.slack.com/interactivity/slash-commands#app_command_handling;
- interactions (form field ``payload`` holding JSON): https://api.slack.com/reference/interaction-payloads
  (``message_action`` for message shortcuts, ``block_suggestion`` for external selects, ``view_submission``);
- every request must be acknowledged within 3 seconds: https://api.slack.com/interactivity/handling#acknowledgment_response;
- Events API URL check: https://api.slack.com/events/url_verification.
"""

from __future__ import annotations

import json
import logging
import urllib.error
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from integrations.capture import (
    CaptureContext,
    CaptureError,
    CaptureInvalid,
    CaptureRejected,
    Deferred,
    RawRequest,
    Reply,
    check_timestamp,
    header,
)
from integrations.slack import views
from integrations.slack.settings import SlackSettings
from schemas.capture import CaptureNotice, shorten_title
from schemas.signals import ContributorRef, CustomerHint, SignalCreate, Source

log = logging.getLogger("signal_pipeline.capture.slack")

REPLAY_WINDOW_SECONDS = 5 * 60
SUGGESTION_LIMIT = 20
# Slack Web API errors that no retry will fix (https://api.slack.com/methods/views.open#errors and the others).
PERMANENT_ERRORS = frozenset(
    {
        "expired_trigger_id",
        "exchanged_trigger_id",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "user_not_found",
        "channel_not_found",
        "not_in_channel",
        "invalid_blocks",
        "invalid_arguments",
        "message_not_found",
        "user_not_in_channel",
    }
)


class SlackSource:
    name: ClassVar[str] = "slack"
    routes: ClassVar[tuple[str, ...]] = ("commands", "interactions", "events")
    follows: ClassVar[frozenset[str]] = frozenset({"signal.attributed", "signal.merged", "opportunity.closed"})

    def __init__(self, settings: SlackSettings, client: WebClient | None = None) -> None:
        self.settings = settings
        self.rate_limit_per_minute = settings.rate_limit_per_minute
        self.verifier = SignatureVerifier(settings.signing_secret.get_secret_value())
        self.client = client or WebClient(
            token=settings.bot_token.get_secret_value(),
            base_url=settings.base_url,
            timeout=int(settings.timeout_seconds),
        )

    # -- verify ---------------------------------------------------------------------------------------------

    def verify(self, raw: RawRequest) -> None:
        timestamp = header(raw, "X-Slack-Request-Timestamp")
        check_timestamp(timestamp, window_seconds=REPLAY_WINDOW_SECONDS)
        if not self.verifier.is_valid(raw.body, timestamp, header(raw, "X-Slack-Signature")):
            raise CaptureRejected("signature does not match")

    # -- receive (within Slack's 3 seconds) ----------------------------------------------------------------

    def receive(self, route: str, raw: RawRequest, ctx: CaptureContext) -> Reply | Deferred:
        if route == "commands":
            return self._command(_form(raw))
        if route == "interactions":
            form = _form(raw)
            try:
                payload = json.loads(form.get("payload", ""))
            except ValueError:
                raise CaptureInvalid("payload", "must be JSON") from None
            if not isinstance(payload, dict):
                raise CaptureInvalid("payload", "must be a JSON object")
            return self._interaction(payload, ctx)
        if route == "events":
            return _event(raw)
        raise CaptureInvalid("path", f"unknown Slack route {route!r}")

    def _command(self, form: Mapping[str, str]) -> Reply | Deferred:
        trigger, user = _required(form, "trigger_id"), _required(form, "user_id")
        if form.get("command") != self.settings.command:
            raise CaptureInvalid("command", f"this app answers {self.settings.command}")
        context = {"channel": form.get("channel_id", ""), "user": user}
        work = {"action": "open_modal", "trigger_id": trigger, "text": form.get("text", ""), "context": context}
        # The modal opens from the deferred work; the empty answer just acknowledges (nothing posted in the channel).
        return Deferred(key=f"trigger:{trigger}", payload=work)

    def _interaction(self, payload: dict[str, Any], ctx: CaptureContext) -> Reply | Deferred:
        kind = payload.get("type")
        if kind == "message_action":
            if payload.get("callback_id") != self.settings.shortcut_callback_id:
                return Reply()
            trigger = _required(payload, "trigger_id")
            channel = _str(_dict(payload, "channel"), "id", "channel.id")
            message = _dict(payload, "message")
            context = {
                "channel": channel,
                "user": _str(_dict(payload, "user"), "id", "user.id"),
                "message_ts": _str(message, "ts", "message.ts"),
            }
            work = {
                "action": "open_modal",
                "trigger_id": trigger,
                "text": str(message.get("text") or ""),
                "context": context,
            }
            return Deferred(key=f"trigger:{trigger}", payload=work)
        if kind == "block_suggestion":
            query = str(payload.get("value") or "").strip()
            return Reply(body=views.account_options(ctx.find_accounts(query, SUGGESTION_LIMIT) if query else []))
        if kind == "view_submission":
            return self._submission(payload, ctx)
        return Reply()  # other interactions (view_closed, block_actions) need no answer

    def _submission(self, payload: dict[str, Any], ctx: CaptureContext) -> Reply | Deferred:
        view = _dict(payload, "view")
        if view.get("callback_id") != views.MODAL_CALLBACK_ID:
            return Reply()
        values = _dict(_dict(view, "state"), "values")
        customer = _selected(values, views.CUSTOMER)
        kind = _selected(values, views.KIND)
        text = str(((values.get(views.TEXT) or {}).get(views.TEXT) or {}).get("value") or "").strip()
        errors = {}
        if not customer:
            errors[views.CUSTOMER] = "Choose the customer."
        if kind not in ctx.kinds:
            errors[views.KIND] = "Choose a kind."
        if len(text) < 3:
            errors[views.TEXT] = "Say in a few words what you noticed."
        if errors:  # shown in the modal, which stays open (https://api.slack.com/surfaces/modals#displaying_errors)
            return Reply(body={"response_action": "errors", "errors": errors})
        try:
            context = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            raise CaptureInvalid("view.private_metadata", "must be JSON") from None
        if not isinstance(context, dict):
            raise CaptureInvalid("view.private_metadata", "must be a JSON object")
        view_id = _str(view, "id", "view.id")
        work = {
            "action": "submit",
            "view_id": view_id,
            "user": _str(_dict(payload, "user"), "id", "user.id"),
            "customer": customer,
            "kind": kind,
            "text": text,
            "context": {k: str(v) for k, v in context.items()},
        }
        # Keyed by the view: a double submit or a retried delivery is stored once.
        return Deferred(key=f"view:{view_id}", payload=work)

    # -- process (after the answer) ------------------------------------------------------------------------

    def process(self, payload: dict[str, Any], ctx: CaptureContext) -> None:
        if payload["action"] == "open_modal":
            self._open_modal(payload, ctx)
        elif payload["action"] == "submit":
            self._capture(payload, ctx)

    def _open_modal(self, payload: dict[str, Any], ctx: CaptureContext) -> None:
        context = dict(payload["context"])
        text = payload["text"]
        if context.get("message_ts"):
            context["permalink"] = self._call(
                "chat_getPermalink", channel=context["channel"], message_ts=context["message_ts"]
            ).get("permalink", "")
            text = f"{text}\n\n{context['permalink']}".strip()
        self._call("views_open", trigger_id=payload["trigger_id"], view=views.signal_modal(ctx.kinds, text, context))

    def _capture(self, payload: dict[str, Any], ctx: CaptureContext) -> None:
        user_id, context = payload["user"], payload["context"]
        # users.info needs the users:read.email scope for profile.email (https://api.slack.com/methods/users.info).
        user = self._call("users_info", user=user_id).get("user") or {}
        profile = user.get("profile") or {}
        email = profile.get("email")
        if not email:
            raise CaptureError("the Slack user has no visible e-mail (scope users:read.email)", retryable=False)
        channel, ts = context.get("channel", ""), context.get("message_ts", "")
        # The message is the source; a signal typed into /signal has no message, so its modal is.
        reference = f"{channel}:{ts}" if channel and ts else f"view:{payload['view_id']}"
        text = payload["text"]
        draft = SignalCreate(
            contributor=ContributorRef(email=email, name=profile.get("real_name") or user.get("real_name") or None),
            customer=CustomerHint(crm_account_id=payload["customer"]),
            kind=payload["kind"],
            title=shorten_title(text),
            body=text,
            source=Source(system=self.name, reference=reference, url=context.get("permalink") or None),
        )
        result = ctx.capture(draft, {"user": user_id, "channel": channel})
        answer = views.confirmation(result)
        if channel:
            self._call("chat_postEphemeral", channel=channel, user=user_id, text=answer)
        else:
            self._call("chat_postMessage", channel=user_id, text=answer)

    # -- follow-up -------------------------------------------------------------------------------------------

    def follow_up(self, notice: CaptureNotice) -> None:
        if notice.event not in self.follows:
            return
        # A user id as channel posts to the app's DM with that user (https://api.slack.com/methods/chat.postMessage#app_home).
        self._call("chat_postMessage", channel=str(notice.reply_to["user"]), text=views.notice_text(notice))

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown"))
            status = exc.response.status_code
            retryable = status == 429 or status >= 500 or error not in PERMANENT_ERRORS
            raise CaptureError(f"slack {method}: {error} (HTTP {status})", retryable=retryable, code=error) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise CaptureError(f"slack {method}: {type(exc).__name__}", retryable=True) from None
        data: dict[str, Any] = response.data if isinstance(response.data, dict) else {}
        return data


def _form(raw: RawRequest) -> dict[str, str]:
    try:
        parsed = parse_qs(raw.body.decode(), keep_blank_values=True, strict_parsing=bool(raw.body))
    except (UnicodeDecodeError, ValueError):
        raise CaptureInvalid("body", "must be application/x-www-form-urlencoded") from None
    return {k: v[0] for k, v in parsed.items()}


def _event(raw: RawRequest) -> Reply:
    try:
        body = json.loads(raw.body)
    except ValueError:
        raise CaptureInvalid("body", "must be JSON") from None
    if not isinstance(body, dict) or "type" not in body:
        raise CaptureInvalid("type", "is required")
    if body["type"] == "url_verification":
        return Reply(body={"challenge": _str(body, "challenge", "challenge")})
    return Reply()  # the app subscribes to no event it acts on; acknowledge so Slack does not retry


def _dict(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise CaptureInvalid(key, "is required (an object)")
    return value


def _str(data: Mapping[str, Any], key: str, field: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise CaptureInvalid(field, "is required")
    return value


def _required(data: Mapping[str, Any], key: str) -> str:
    return _str(data, key, key)


def _selected(values: Mapping[str, Any], block: str) -> str | None:
    element = (values.get(block) or {}).get(block) or {}
    option = element.get("selected_option") or {}
    value = option.get("value")
    return str(value) if value else None
