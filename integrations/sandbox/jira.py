"""A local Jira Cloud: the issue comment API the capture source calls, spoken like Jira does, plus Jira's side
(signed admin webhooks), so tests run the real ``jira`` client against it.

``POST /rest/api/{2,3}/issue/{issueIdOrKey}/comment`` (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comments/#api-rest-api-2-issue-issueidorkey-comment-post):
basic auth with an account e-mail and API token (401 otherwise), 404 for an unknown issue, 400 for an empty body,
201 with the comment; errors in Jira's shape ``{"errorMessages": [...], "errors": {...}}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SANDBOX_EMAIL = "signals-bot@example.com"
SANDBOX_TOKEN = "sandbox-jira-token"  # noqa: S105  (a local fake's token, not a secret)
SANDBOX_WEBHOOK_SECRET = "sandbox-jira-webhook-secret"  # noqa: S105


@dataclass
class JiraSandboxState:
    users: dict[str, str]  # e-mail -> API token
    issues: set[str] = field(default_factory=set)  # keys and ids that exist
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by issue key as called
    fail_next: list[int] = field(default_factory=list)  # statuses to answer next (429, 503, ...)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(10000))

    def add_issue(self, key: str, issue_id: str) -> None:
        with self._lock:
            self.issues.update({key, issue_id})


def _error(status: int, messages: list[str], errors: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errorMessages": messages, "errors": errors or {}}, status)


def create_jira_sandbox(users: dict[str, str] | None = None) -> tuple[FastAPI, JiraSandboxState]:
    state = JiraSandboxState(users=dict(users or {SANDBOX_EMAIL: SANDBOX_TOKEN}))
    app = FastAPI(title="Jira sandbox", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/rest/api/{version}/issue/{key}/comment")
    async def add_comment(version: str, key: str, request: Request) -> JSONResponse:
        if version not in ("2", "3"):
            return _error(404, ["Not found"])
        user = _authenticated(state, request.headers.get("authorization", ""))
        if user is None:
            return JSONResponse({"errorMessages": ["You are not authenticated."], "errors": {}}, 401)
        if state.fail_next:
            status = state.fail_next.pop(0)
            headers = {"Retry-After": "1"} if status == 429 else {}
            return JSONResponse(
                {"errorMessages": ["Rate limit exceeded." if status == 429 else "Internal error"], "errors": {}},
                status,
                headers=headers,
            )
        if key not in state.issues:
            return _error(404, ["Issue does not exist or you do not have permission to see it."])
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, ["Unexpected character in request body."])
        text = body.get("body") if isinstance(body, dict) else None
        if not text:
            return _error(400, [], {"comment": "Comment body can not be empty!"})
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        comment_id = str(next(state._ids))
        base = str(request.base_url).rstrip("/")
        comment = {
            "self": f"{base}/rest/api/{version}/issue/{key}/comment/{comment_id}",
            "id": comment_id,
            "author": {"emailAddress": user, "displayName": user, "active": True},
            "body": text,
            "created": now,
            "updated": now,
            "jsdPublic": True,
        }
        with state._lock:
            state.comments.setdefault(key, []).append(comment)
        return JSONResponse(comment, 201)

    return app, state


def _authenticated(state: JiraSandboxState, authorization: str) -> str | None:
    if not authorization.lower().startswith("basic "):
        return None
    try:
        email, _, token = base64.b64decode(authorization[6:]).decode().partition(":")
    except ValueError:
        return None
    return email if state.users.get(email) == token and token else None


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    """What Jira sends with an admin webhook that has a secret: ``X-Hub-Signature: sha256=<hex>``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature": f"sha256={digest}"}
