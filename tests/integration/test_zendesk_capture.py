"""Zendesk specifics beyond the conformance suite: only tagged tickets are signals; the kind comes from a tag."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from app.signals.models import Signal
from tests.integration.capture_env import WebhookEnv, count, signals, zendesk_env, zendesk_ticket


@pytest.fixture
def env(app: FastAPI) -> Iterator[WebhookEnv]:
    with zendesk_env(app) as e:
        yield e


def test_an_untagged_ticket_is_answered_200_and_stores_nothing(env: WebhookEnv) -> None:
    body = json.dumps(zendesk_ticket("Printer jam", tags="hardware vip")).encode()
    response = env.post(env.sign("", body))
    assert response.status_code == 200 and response.json()["captured"] is False
    assert count(env.app, Signal) == 0


def test_the_kind_tag_and_the_agent_make_the_signal(env: WebhookEnv) -> None:
    body = json.dumps(zendesk_ticket("They ask for a second site licence", tags="signal signal_expansion")).encode()
    assert env.post(env.sign("", body)).status_code == 201
    (signal,) = signals(env.app)
    assert signal.kind == "expansion" and signal.source_reference == "ticket:4711"
    assert signal.source_url == "https://ourco.zendesk.com/agent/tickets/4711"
    assert signal.customer_hint == {"email": "it-lead@nordkraft.se", "name": "Nordkraft AB"}


def test_a_ticket_without_the_agent_email_is_422_naming_the_field(env: WebhookEnv) -> None:
    payload = zendesk_ticket("Needs SSO")
    payload["current_user"] = {"email": "", "name": "Nobody"}
    response = env.post(env.sign("", json.dumps(payload).encode()))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "contributor.email"
    assert count(env.app, Signal) == 0
