"""Capture sources wired to the app under test, each with its vendor's sandbox served over real HTTP.

An env knows how its vendor signs a request and what a capturing request looks like, so one conformance suite
(test_capture_conformance.py) runs against every source.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from app.accounts.service import import_accounts
from app.capture.models import CaptureTask
from app.capture.service import TaskRunner
from app.core.db import transaction
from app.signals.models import Signal
from integrations.jira.settings import JiraSettings
from integrations.jira.source import JiraSource
from integrations.sandbox.jira import SANDBOX_EMAIL as JIRA_SANDBOX_EMAIL
from integrations.sandbox.jira import SANDBOX_TOKEN as JIRA_SANDBOX_TOKEN
from integrations.sandbox.jira import JiraSandboxState, create_jira_sandbox
from integrations.sandbox.jira import signed_headers as jira_signed_headers
from integrations.sandbox.slack import (
    FORM,
    SlackSandboxState,
    create_slack_sandbox,
    interaction_body,
    signed_headers,
)
from integrations.slack.settings import SlackSettings
from integrations.slack.source import SlackSource
from integrations.teams.settings import TeamsSettings
from integrations.teams.source import TeamsSource
from integrations.zendesk.settings import ZendeskSettings
from integrations.zendesk.source import ZendeskSource
from tests.integration.hubspot_env import SandboxServer

SLACK_SECRET = "test-slack-signing-secret"
SLACK_TOKEN = "xoxb-test"
ACCOUNT = {"crm": "import", "crm_id": "acc-nordkraft", "name": "Nordkraft AB", "domains": ["nordkraft.se"]}


@dataclass
class Request:
    route: str
    body: bytes
    headers: dict[str, str]


def seed_account(app: FastAPI) -> None:
    with transaction(app.state.engine) as session:
        import_accounts(session, [ACCOUNT])


def signals(app: FastAPI) -> list[Signal]:
    with transaction(app.state.engine) as session:
        return list(session.exec(select(Signal)))


def tasks(app: FastAPI) -> list[CaptureTask]:
    with transaction(app.state.engine) as session:
        return list(session.exec(select(CaptureTask)))


def runner(app: FastAPI) -> TaskRunner:
    return TaskRunner(app.state.engine, app.state.ingest_config, app.state.capture_sources)


@dataclass
class SlackEnv:
    name = "slack"
    app: FastAPI
    client: TestClient
    state: SlackSandboxState
    user_id: str
    channel: str = "C0SALES01"
    has_timestamp = True
    sent: list[str] = field(default_factory=list)

    def sign(self, route: str, body: bytes, *, timestamp: int | None = None, secret: str = SLACK_SECRET) -> Request:
        return Request(route, body, signed_headers(secret, body, timestamp, FORM))

    def post(self, request: Request) -> Any:
        return self.client.post(f"/capture/{self.name}/{request.route}", content=request.body, headers=request.headers)

    def open_modal(self, text: str) -> dict[str, Any]:
        """A message shortcut on a new message with ``text``: the app opens its modal; returns the view."""
        ts = self.state.add_message(self.channel, self.user_id, text)
        payload = {
            "type": "message_action",
            "callback_id": "send_as_signal",
            "trigger_id": self.state.issue_trigger(),
            "user": {"id": self.user_id, "name": "anna"},
            "channel": {"id": self.channel, "name": "sales"},
            "message": {"type": "message", "user": self.user_id, "ts": ts, "text": text},
            "message_ts": ts,
            "team": {"id": "T0SANDBOX", "domain": "sandbox"},
        }
        response = self.post(self.sign("interactions", interaction_body(payload)))
        assert response.status_code == 200, response.text
        return self.state.views[-1]

    def submission(self, view: dict[str, Any], *, customer: str = ACCOUNT["crm_id"], kind: str = "expansion",
                   text: str | None = None) -> Request:  # fmt: skip
        initial = next(b for b in view["blocks"] if b["block_id"] == "text")["element"].get("initial_value", "")
        values = {
            "customer": {"customer": {"type": "external_select", "selected_option": {"value": customer}}},
            "kind": {"kind": {"type": "static_select", "selected_option": {"value": kind}}},
            "text": {"text": {"type": "plain_text_input", "value": initial if text is None else text}},
        }
        payload = {
            "type": "view_submission",
            "user": {"id": self.user_id, "name": "anna"},
            "team": {"id": "T0SANDBOX"},
            "view": {
                "id": view["id"],
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "hash": view["hash"],
                "state": {"values": values},
            },
        }
        return self.sign("interactions", interaction_body(payload))

    def capturing_request(self, text: str = "They want the reporting module for all 40 sites") -> Request:
        return self.submission(self.open_modal(text))

    def malformed_request(self) -> Request:
        return self.sign("interactions", b"payload=%7Bnot-json")

    def told(self) -> list[str]:
        """What the contributor was told in Slack (ephemeral confirmations and DMs), in order."""
        return [m["text"] for m in self.state.ephemeral] + [m["text"] for m in self.state.dms_to(self.user_id)]


@contextmanager
def slack_env(app: FastAPI, **settings: Any) -> Iterator[SlackEnv]:
    sandbox, state = create_slack_sandbox(tokens=(SLACK_TOKEN,))
    server = SandboxServer(sandbox).start()
    try:
        user = state.add_user("anna", "anna.berg@ourco.se", "Anna Berg")
        source = SlackSource(
            SlackSettings(signing_secret=SLACK_SECRET, bot_token=SLACK_TOKEN, base_url=f"{server.url}/api/", **settings)
        )
        app.state.capture_sources = {"slack": source}
        seed_account(app)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield SlackEnv(app=app, client=client, state=state, user_id=user.id)
    finally:
        server.stop()


ZENDESK_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="


@dataclass
class WebhookEnv:
    """A vendor that captures in the webhook request itself and signs with HMAC-SHA256 (Zendesk, Jira, Teams)."""

    name: str
    app: FastAPI
    client: TestClient
    sign_body: Callable[[bytes, int | None, str], dict[str, str]]
    payload: Callable[[str], dict[str, Any]]
    secret: str
    has_timestamp: bool
    route: str = ""

    def sign(self, route: str, body: bytes, *, timestamp: int | None = None, secret: str | None = None) -> Request:
        return Request(route, body, self.sign_body(body, timestamp, self.secret if secret is None else secret))

    def post(self, request: Request) -> Any:
        path = f"/capture/{self.name}" + (f"/{request.route}" if request.route else "")
        return self.client.post(path, content=request.body, headers=request.headers)

    def capturing_request(self, text: str = "They want the reporting module for all 40 sites") -> Request:
        return self.sign(self.route, json.dumps(self.payload(text)).encode())

    def malformed_request(self) -> Request:
        return self.sign(self.route, json.dumps({"ticket": {"id": 1}}).encode())


def zendesk_headers(body: bytes, timestamp: int | None, secret: str) -> dict[str, str]:
    """What Zendesk sends: base64(HMAC-SHA256(secret, timestamp + body)), timestamp in ISO 8601."""
    moment = datetime.fromtimestamp(now() if timestamp is None else timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), moment.encode() + body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": moment,
    }


def zendesk_ticket(text: str, ticket_id: int = 4711, tags: str = "signal signal_expansion vip") -> dict[str, Any]:
    """The body of the trigger's webhook, as the README's template renders it."""
    return {
        "ticket": {
            "id": str(ticket_id),
            "title": text,
            "description": f"{text}\n\nCustomer mentioned it twice on the call.",
            "url": f"ourco.zendesk.com/agent/tickets/{ticket_id}",
            "tags": tags,
            "requester": {"email": "it-lead@nordkraft.se", "name": "Per Lind"},
            "organization": {"name": "Nordkraft AB"},
        },
        "current_user": {"email": "sam.support@ourco.se", "name": "Sam Support"},
    }


@contextmanager
def zendesk_env(app: FastAPI) -> Iterator[WebhookEnv]:
    app.state.capture_sources = {"zendesk": ZendeskSource(ZendeskSettings(webhook_secret=ZENDESK_SECRET))}
    seed_account(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield WebhookEnv("zendesk", app, client, zendesk_headers, zendesk_ticket, ZENDESK_SECRET, True)


JIRA_SECRET = "test-jira-webhook-secret"


def jira_headers(body: bytes, timestamp: int | None, secret: str) -> dict[str, str]:
    return jira_signed_headers(secret, body)


def jira_issue(
    text: str, issue_id: int = 10042, labels: tuple[str, ...] = ("signal", "signal_expansion")
) -> dict[str, Any]:
    """An issue_created webhook as Jira Cloud sends it (fields trimmed to what the source reads)."""
    return {
        "timestamp": 1733390000000,
        "webhookEvent": "jira:issue_created",
        "issue_event_type_name": "issue_created",
        "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Dana Delivery"},
        "issue": {
            "id": str(issue_id),
            "self": f"https://ourco.atlassian.net/rest/api/2/{issue_id}",
            "key": f"DEL-{issue_id % 1000}",
            "fields": {
                "summary": text,
                "description": "Raised in the steering group; they budget for it next quarter.",
                "labels": list(labels),
                "issuetype": {"name": "Task"},
                "project": {"key": "DEL", "name": "Nordkraft AB"},
                "reporter": {"emailAddress": "dana.delivery@ourco.se", "displayName": "Dana Delivery"},
            },
        },
    }


@dataclass
class JiraEnv(WebhookEnv):
    state: JiraSandboxState | None = None


@contextmanager
def jira_env(app: FastAPI) -> Iterator[JiraEnv]:
    sandbox, state = create_jira_sandbox()
    server = SandboxServer(sandbox).start()
    try:
        settings = JiraSettings(
            webhook_secret=JIRA_SECRET, base_url=server.url, email=JIRA_SANDBOX_EMAIL, api_token=JIRA_SANDBOX_TOKEN
        )
        app.state.capture_sources = {"jira": JiraSource(settings)}
        seed_account(app)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield JiraEnv("jira", app, client, jira_headers, jira_issue, JIRA_SECRET, False, state=state)
    finally:
        server.stop()


TEAMS_SECRET = base64.b64encode(b"test-teams-security-token-32byte").decode()
TEAMS_USER = "6b2a4f3e-1c1d-4c55-9a0e-1f7c0d9e2b11"


def teams_headers(body: bytes, timestamp: int | None, secret: str) -> dict[str, str]:
    """What Teams sends: Authorization: HMAC base64(HMAC-SHA256(base64-decoded token, body))."""
    digest = hmac.new(base64.b64decode(secret), body, hashlib.sha256).digest()
    return {"Content-Type": "application/json", "Authorization": "HMAC " + base64.b64encode(digest).decode()}


def teams_message(text: str, message_id: str = "1485983408511") -> dict[str, Any]:
    return {
        "type": "message",
        "id": message_id,
        "timestamp": "2026-12-05T09:18:44.211Z",
        "channelId": "msteams",
        "from": {"id": "29:1abc", "name": "Megan Bowen", "aadObjectId": TEAMS_USER},
        "conversation": {"isGroup": True, "id": "19:sales@thread.skype;messageid=1485983408511", "name": None},
        "text": f"<at>Signals</at> Nordkraft AB: {html.escape(text)} #expansion",
    }


@contextmanager
def teams_env(app: FastAPI) -> Iterator[WebhookEnv]:
    settings = TeamsSettings(hmac_secret=TEAMS_SECRET, contributors={TEAMS_USER: "megan.bowen@ourco.se"})
    app.state.capture_sources = {"teams": TeamsSource(settings)}
    seed_account(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield WebhookEnv("teams", app, client, teams_headers, teams_message, TEAMS_SECRET, False)


ENVS: dict[str, Callable[[FastAPI], AbstractContextManager[Any]]] = {
    "teams": teams_env,
    "slack": slack_env,
    "zendesk": zendesk_env,
    "jira": jira_env,
}


def now() -> int:
    return int(time.time())


def count(app: FastAPI, table: Any) -> int:
    with transaction(app.state.engine) as session:
        return int(session.exec(select(sa.func.count()).select_from(table)).one())


def unique() -> str:
    return uuid.uuid4().hex[:8]


__all__ = ["ENVS", "Request", "SlackEnv", "count", "json", "now", "runner", "signals", "slack_env", "tasks", "unique"]
