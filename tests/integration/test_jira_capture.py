"""Jira specifics beyond the conformance suite: marking by label or issue type, the reporter's hidden e-mail, and
the comment back on the issue once the opportunity is in the CRM, posted by the `jira` client to the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from jira import JIRA, JIRAError

from app.core.db import transaction
from app.notifications.events import emit
from app.opportunities.models import Opportunity
from app.signals.models import Signal
from integrations.jira.settings import JiraSettings
from integrations.jira.source import JiraSource
from tests.integration.capture_env import JIRA_SECRET, JiraEnv, count, jira_env, jira_issue, runner, signals, tasks


@pytest.fixture
def env(app: FastAPI) -> Iterator[JiraEnv]:
    with jira_env(app) as e:
        yield e


def post(env: JiraEnv, payload: dict[str, object]) -> object:
    return env.post(env.sign("", json.dumps(payload).encode()))


def synced(env: JiraEnv, signal: Signal, url: str) -> None:
    """What the sync worker does when the CRM has the opportunity: store its link, emit opportunity.synced."""
    with transaction(env.app.state.engine) as session:
        opp = session.get(Opportunity, signal.opportunity_id)
        assert opp is not None
        opp.crm_url = url
        session.add(opp)
        emit(session, "opportunity.synced", opportunity_id=opp.id)


def test_an_unmarked_issue_is_ignored(env: JiraEnv) -> None:
    response = env.post(env.sign("", json.dumps(jira_issue("Fix login", labels=("bug",))).encode()))
    assert response.status_code == 200 and response.json()["captured"] is False  # type: ignore[attr-defined]
    assert count(env.app, Signal) == 0


def test_an_issue_type_can_mark_signals(env: JiraEnv) -> None:
    source = env.app.state.capture_sources["jira"]
    env.app.state.capture_sources["jira"] = JiraSource(source.settings.model_copy(update={"issue_type": "Signal"}))
    payload = jira_issue("New reporting need", labels=())
    payload["issue"]["fields"]["issuetype"] = {"name": "Signal"}
    assert env.post(env.sign("", json.dumps(payload).encode())).status_code == 201
    (signal,) = signals(env.app)
    assert signal.kind == "other" and signal.source_url == "https://ourco.atlassian.net/browse/DEL-42"


def test_a_hidden_reporter_email_is_422_and_stores_nothing(env: JiraEnv) -> None:
    payload = jira_issue("Needs SSO")
    del payload["issue"]["fields"]["reporter"]["emailAddress"]
    response = env.post(env.sign("", json.dumps(payload).encode()))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "issue.fields.reporter.emailAddress"
    assert count(env.app, Signal) == 0


def test_once_synced_the_issue_gets_one_comment_with_the_opportunity_link(env: JiraEnv) -> None:
    assert env.state is not None
    env.state.add_issue("DEL-42", "10042")
    env.post(env.sign("", json.dumps(jira_issue("They want the planning module")).encode()))
    (signal,) = signals(env.app)
    synced(env, signal, "https://crm.example/deals/77")
    synced(env, signal, "https://crm.example/deals/77")  # every sync emits it; the issue hears once
    assert runner(env.app).run_due() == 1
    (comment,) = env.state.comments["DEL-42"]
    assert "https://crm.example/deals/77" in comment["body"]
    assert [t.state for t in tasks(env.app)] == ["done"]


def test_a_jira_outage_leaves_the_comment_for_a_retry(env: JiraEnv) -> None:
    assert env.state is not None
    env.state.add_issue("DEL-42", "10042")
    env.post(env.sign("", json.dumps(jira_issue("They want the planning module")).encode()))
    synced(env, signals(env.app)[0], "https://crm.example/deals/77")
    env.state.fail_next.append(503)
    runner(env.app).run_due()
    (task,) = tasks(env.app)
    assert task.state == "pending" and task.attempts == 1 and "503" in (task.last_error or "")


def test_the_sandbox_refuses_a_bad_token_like_jira(env: JiraEnv) -> None:
    source: JiraSource = env.app.state.capture_sources["jira"]
    settings: JiraSettings = source.settings
    client = JIRA(
        server=settings.base_url, basic_auth=("someone@example.com", "wrong"), get_server_info=False, max_retries=0
    )
    with pytest.raises(JIRAError) as caught:
        client.add_comment("DEL-1", "hello")
    assert caught.value.status_code == 401
    assert JIRA_SECRET  # the webhook secret is separate from the REST credentials
