"""A local Slack: the Web API methods the capture source calls, spoken like Slack does, plus Slack's side of
the conversation (signed requests to the app), so the whole loop runs offline with slack-sdk's own clients.

Methods (https://api.slack.com/methods/<name>): ``users.info``, ``chat.postMessage``, ``chat.postEphemeral``,
``views.open``, ``chat.getPermalink``. Slack's conventions kept here: HTTP 200 with ``{"ok": false, "error": ...}``
for API errors (https://api.slack.com/web#evaluating_responses), bearer token auth (``invalid_auth``,
``not_authed``), arguments as JSON, form or query string, 429 with ``Retry-After`` when rate limited
(https://api.slack.com/docs/rate-limits), trigger ids valid for 3 seconds and usable once
(https://api.slack.com/interactivity/handling#modal_responses), modal limits (title 24 characters, 100 blocks,
private_metadata 3000 characters: https://api.slack.com/reference/surfaces/views).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SANDBOX_BOT_TOKEN = "xoxb-sandbox-token"  # noqa: S105  (a local fake's token, not a secret)
SANDBOX_SIGNING_SECRET = "sandbox-signing-secret"  # noqa: S105
TRIGGER_TTL_SECONDS = 3.0
TITLE_LIMIT, BLOCK_LIMIT, METADATA_LIMIT = 24, 100, 3000
TEAM_ID = "T0SANDBOX"


@dataclass
class SlackUser:
    id: str
    name: str
    real_name: str
    email: str | None


@dataclass
class SlackSandboxState:
    """The workspace: users, channel messages, what the app posted and opened. Thread-safe."""

    tokens: tuple[str, ...]
    users: dict[str, SlackUser] = field(default_factory=dict)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    posted: list[dict[str, Any]] = field(default_factory=list)
    ephemeral: list[dict[str, Any]] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)
    triggers: dict[str, float] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    rate_limited: dict[str, int] = field(default_factory=dict)  # method -> number of 429s to answer next
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_user(self, name: str, email: str | None, real_name: str | None = None) -> SlackUser:
        with self._lock:
            user = SlackUser(f"U{next(self._ids):08d}", name, real_name or name.title(), email)
            self.users[user.id] = user
            return user

    def add_message(self, channel: str, user: str, text: str) -> str:
        with self._lock:
            ts = f"{int(time.time())}.{next(self._ids):06d}"
            self.messages[(channel, ts)] = {"type": "message", "user": user, "text": text, "ts": ts}
            return ts

    def issue_trigger(self) -> str:
        """A trigger id as Slack puts in a command or shortcut payload; valid for 3 seconds, once."""
        with self._lock:
            trigger = f"{next(self._ids)}.{int(time.time())}.sandbox"
            self.triggers[trigger] = time.monotonic()
            return trigger

    def dms_to(self, user_id: str) -> list[dict[str, Any]]:
        return [m for m in self.posted if m["channel"] == user_id]


class _SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def create_slack_sandbox(tokens: tuple[str, ...] = (SANDBOX_BOT_TOKEN,)) -> tuple[FastAPI, SlackSandboxState]:
    state = SlackSandboxState(tokens=tokens)
    app = FastAPI(title="Slack sandbox", docs_url=None, redoc_url=None, openapi_url=None)

    @app.api_route("/api/{method}", methods=["GET", "POST"])
    async def call(method: str, request: Request) -> JSONResponse:
        args = dict(request.query_params)
        args.update(await _body_args(request))
        token = _token(request, args)
        state.calls.append(method)
        if state.rate_limited.get(method, 0) > 0:
            state.rate_limited[method] -= 1
            return JSONResponse({"ok": False, "error": "ratelimited"}, 429, headers={"Retry-After": "1"})
        try:
            if token is None:
                raise _SlackError("not_authed")
            if token not in state.tokens:
                raise _SlackError("invalid_auth")
            handler = _METHODS.get(method)
            if handler is None:
                raise _SlackError("unknown_method")
            with state._lock:
                result = handler(state, args)
        except _SlackError as exc:
            return JSONResponse({"ok": False, "error": exc.error, **exc.extra})
        return JSONResponse({"ok": True, **result})

    return app, state


async def _body_args(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        try:
            body = json.loads(raw)
        except ValueError:
            raise _SlackError("invalid_json") from None
        return body if isinstance(body, dict) else {}
    return {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}


def _token(request: Request, args: dict[str, Any]) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    token = args.pop("token", None)
    return str(token) if token else None


def _need(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if value in (None, ""):
        raise _SlackError(
            "invalid_arguments", response_metadata={"messages": [f"[ERROR] missing required field: {name}"]}
        )
    return str(value)


def _users_info(state: SlackSandboxState, args: dict[str, Any]) -> dict[str, Any]:
    user = state.users.get(_need(args, "user"))
    if user is None:
        raise _SlackError("user_not_found")
    profile: dict[str, Any] = {"real_name": user.real_name, "display_name": user.name}
    if user.email:
        profile["email"] = user.email
    return {
        "user": {"id": user.id, "team_id": TEAM_ID, "name": user.name, "real_name": user.real_name, "profile": profile}
    }


def _ts(state: SlackSandboxState) -> str:
    return f"{int(time.time())}.{next(state._ids):06d}"


def _text_or_blocks(args: dict[str, Any]) -> None:
    if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
        raise _SlackError("no_text")


def _post_message(state: SlackSandboxState, args: dict[str, Any]) -> dict[str, Any]:
    channel = _need(args, "channel")
    _text_or_blocks(args)
    if channel.startswith("U") and channel not in state.users:
        raise _SlackError("channel_not_found")
    ts = _ts(state)
    message = {"channel": channel, "ts": ts, "text": args.get("text", ""), "blocks": args.get("blocks")}
    state.posted.append(message)
    # Posting to a user id lands in the app's DM with them, whose id Slack answers with (a D... channel).
    answered = "D" + channel[1:] if channel.startswith("U") else channel
    return {"channel": answered, "ts": ts, "message": {"type": "message", "text": message["text"], "ts": ts}}


def _post_ephemeral(state: SlackSandboxState, args: dict[str, Any]) -> dict[str, Any]:
    channel, user = _need(args, "channel"), _need(args, "user")
    _text_or_blocks(args)
    if user not in state.users:
        raise _SlackError("user_not_found")
    ts = _ts(state)
    state.ephemeral.append({"channel": channel, "user": user, "text": args.get("text", ""), "message_ts": ts})
    return {"message_ts": ts}


def _views_open(state: SlackSandboxState, args: dict[str, Any]) -> dict[str, Any]:
    trigger = _need(args, "trigger_id")
    view = args.get("view")
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            raise _SlackError("invalid_arguments") from None
    if not isinstance(view, dict):
        raise _SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: view"]})
    issued = state.triggers.get(trigger)
    if issued is None:
        raise _SlackError("invalid_trigger_id")
    if issued < 0:
        raise _SlackError("exchanged_trigger_id")
    if time.monotonic() - issued > TRIGGER_TTL_SECONDS:
        raise _SlackError("expired_trigger_id")
    problems = _view_problems(view)
    if problems:
        raise _SlackError("invalid_arguments", response_metadata={"messages": problems})
    state.triggers[trigger] = -1.0
    opened = {**view, "id": f"V{next(state._ids):08d}", "team_id": TEAM_ID, "hash": f"{int(time.time())}.sandbox"}
    state.views.append(opened)
    return {"view": opened}


def _view_problems(view: dict[str, Any]) -> list[str]:
    out = []
    if view.get("type") != "modal":
        out.append("[ERROR] must be 'modal' [json-pointer:/view/type]")
    title = (view.get("title") or {}).get("text", "")
    if not title or len(title) > TITLE_LIMIT:
        out.append(f"[ERROR] must be at most {TITLE_LIMIT} characters [json-pointer:/view/title/text]")
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or len(blocks) > BLOCK_LIMIT:
        out.append(f"[ERROR] no more than {BLOCK_LIMIT} items allowed [json-pointer:/view/blocks]")
    if len(view.get("private_metadata") or "") > METADATA_LIMIT:
        out.append(f"[ERROR] must be at most {METADATA_LIMIT} characters [json-pointer:/view/private_metadata]")
    return out


def _permalink(state: SlackSandboxState, args: dict[str, Any]) -> dict[str, Any]:
    channel, ts = _need(args, "channel"), _need(args, "message_ts")
    if (channel, ts) not in state.messages:
        raise _SlackError("message_not_found")
    return {"channel": channel, "permalink": f"https://sandbox.slack.com/archives/{channel}/p{ts.replace('.', '')}"}


_METHODS = {
    "users.info": _users_info,
    "chat.postMessage": _post_message,
    "chat.postEphemeral": _post_ephemeral,
    "views.open": _views_open,
    "chat.getPermalink": _permalink,
}


# -- Slack's side: the signed requests Slack sends to the app ------------------------------------------------


def signed_headers(secret: str, body: bytes, timestamp: int | None = None, content_type: str = "") -> dict[str, str]:
    """Headers Slack sends: ``X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def command_body(*, command: str, user_id: str, channel_id: str, trigger_id: str, text: str = "") -> bytes:
    """A slash command request body (https://api.slack.com/interactivity/slash-commands#app_command_handling)."""
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "channel_id": channel_id,
            "user_id": user_id,
            "command": command,
            "text": text,
            "response_url": "https://hooks.slack.com/commands/sandbox",
            "trigger_id": trigger_id,
        }
    ).encode()


def interaction_body(payload: dict[str, Any]) -> bytes:
    """An interaction request body: the JSON payload in the form field ``payload``."""
    return urlencode({"payload": json.dumps(payload)}).encode()


FORM = "application/x-www-form-urlencoded"
