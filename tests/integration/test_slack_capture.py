"""Slack end to end against the Slack sandbox, with slack-sdk's WebClient on the app's side: command and
shortcut open the modal, the customer picker is fed by the account directory, a submission becomes a signal
from the Slack user with an ephemeral confirmation, and the contributor gets a DM when the opportunity is won."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from slack_sdk import WebClient

from app.capture.models import CaptureTask
from app.signals.models import Signal
from integrations.sandbox.slack import FORM, command_body, interaction_body, signed_headers
from tests.integration.capture_env import (
    ACCOUNT,
    SLACK_SECRET,
    SLACK_TOKEN,
    SlackEnv,
    count,
    runner,
    signals,
    slack_env,
    tasks,
)


@pytest.fixture
def env(app: FastAPI) -> Iterator[SlackEnv]:
    with slack_env(app) as e:
        yield e


class TestFullLoop:
    def test_command_modal_submit_signal_and_dm_when_won(self, env: SlackEnv, auth: dict[str, str]) -> None:
        # /signal opens the modal with the command's text prefilled.
        body = command_body(
            command="/signal",
            user_id=env.user_id,
            channel_id=env.channel,
            trigger_id=env.state.issue_trigger(),
            text="Nordkraft want SSO for their 40 depots",
        )
        response = env.post(env.sign("commands", body))
        assert response.status_code == 200 and response.content == b""
        (view,) = env.state.views
        text_block = next(b for b in view["blocks"] if b["block_id"] == "text")
        assert text_block["element"]["initial_value"] == "Nordkraft want SSO for their 40 depots"

        # The customer picker asks the app for options while the user types.
        suggestion = {"type": "block_suggestion", "action_id": "customer", "block_id": "customer", "value": "nordk"}
        options = env.post(env.sign("interactions", interaction_body(suggestion))).json()["options"]
        assert [o["value"] for o in options] == [ACCOUNT["crm_id"]]

        # Submitting stores the signal from the Slack user and answers with an ephemeral confirmation.
        assert env.post(env.submission(view)).status_code == 200
        (signal,) = signals(env.app)
        assert signal.source_system == "slack" and signal.source_reference == f"view:{view['id']}"
        assert signal.kind == "expansion" and signal.customer_hint == {"crm_account_id": ACCOUNT["crm_id"]}
        (confirmation,) = env.state.ephemeral
        assert confirmation["user"] == env.user_id and confirmation["channel"] == env.channel
        assert "Nordkraft AB" in confirmation["text"]

        # The opportunity is won: the contributor gets a DM with the outcome note.
        outcome = {"status": "won", "note": "Signed for all depots, thanks to the heads-up"}
        r = env.client.post(f"/v1/opportunities/{signal.opportunity_id}/outcome", json=outcome, headers=auth)
        assert r.status_code == 200, r.text
        assert runner(env.app).run_due() == 1
        (dm,) = env.state.dms_to(env.user_id)
        assert "was won" in dm["text"] and "Signed for all depots" in dm["text"]
        assert all(t.state == "done" for t in tasks(env.app))

    def test_message_shortcut_prefills_message_and_permalink_and_sources_the_message(self, env: SlackEnv) -> None:
        view = env.open_modal("Their ops lead asked about route planning")
        text = next(b for b in view["blocks"] if b["block_id"] == "text")["element"]["initial_value"]
        assert text.startswith("Their ops lead asked about route planning")
        assert "https://sandbox.slack.com/archives/" in text
        assert env.post(env.submission(view)).status_code == 200
        (signal,) = signals(env.app)
        context = json.loads(view["private_metadata"])
        assert signal.source_reference == f"{env.channel}:{context['message_ts']}"
        assert signal.source_url == context["permalink"]

    def test_the_same_message_sent_twice_is_one_signal_and_says_so(self, env: SlackEnv) -> None:
        view = env.open_modal("They need an API for the warehouse")
        env.post(env.submission(view))
        # A second modal on the same message (say, a second click) is the same source reference.
        again = env.state.views[-1]
        env.post(env.submission({**again, "id": "V-other"}))
        assert count(env.app, Signal) == 1
        assert "already sent" in env.state.ephemeral[-1]["text"]


class TestSubmission:
    def test_missing_customer_is_shown_in_the_modal_and_stores_nothing(self, env: SlackEnv) -> None:
        view = env.open_modal("Something")
        response = env.post(env.submission(view, customer=""))
        assert response.status_code == 200
        assert response.json()["response_action"] == "errors" and "customer" in response.json()["errors"]
        assert count(env.app, Signal) == 0

    def test_a_user_without_visible_email_is_not_stored_and_not_retried(self, env: SlackEnv) -> None:
        nobody = env.state.add_user("ghost", None)
        env.user_id = nobody.id
        env.post(env.capturing_request())
        assert count(env.app, Signal) == 0
        (task,) = [t for t in tasks(env.app) if t.payload.get("action") == "submit"]
        assert task.state == "dead" and "e-mail" in (task.last_error or "")

    def test_slack_rate_limit_leaves_the_task_for_a_retry(self, env: SlackEnv) -> None:
        env.state.rate_limited["users.info"] = 1
        env.post(env.capturing_request())
        assert count(env.app, Signal) == 0
        (task,) = [t for t in tasks(env.app) if t.payload.get("action") == "submit"]
        assert task.state == "pending" and task.attempts == 1 and "ratelimited" in (task.last_error or "")


class TestEvents:
    def test_url_verification_echoes_the_challenge(self, env: SlackEnv) -> None:
        body = json.dumps(
            {
                "type": "url_verification",
                "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                "token": "x",
            }
        ).encode()
        headers = signed_headers(SLACK_SECRET, body, content_type="application/json")
        response = env.client.post("/capture/slack/events", content=body, headers=headers)
        assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}

    def test_a_command_for_another_app_is_422(self, env: SlackEnv) -> None:
        body = command_body(command="/other", user_id=env.user_id, channel_id="C1", trigger_id="1.2.x")
        response = env.client.post(
            "/capture/slack/commands", content=body, headers=signed_headers(SLACK_SECRET, body, content_type=FORM)
        )
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "command"
        assert count(env.app, CaptureTask) == 0


class TestSandbox:
    """The sandbox answers the way Slack does, checked with slack-sdk's own client."""

    def test_bad_token_is_invalid_auth(self, env: SlackEnv) -> None:
        from slack_sdk.errors import SlackApiError

        base = env.app.state.capture_sources["slack"].settings.base_url
        with pytest.raises(SlackApiError) as caught:
            WebClient(token="xoxb-wrong", base_url=base).users_info(user=env.user_id)
        assert caught.value.response["error"] == "invalid_auth"

    def test_a_trigger_is_used_once(self, env: SlackEnv) -> None:
        from slack_sdk.errors import SlackApiError

        client = WebClient(token=SLACK_TOKEN, base_url=env.app.state.capture_sources["slack"].settings.base_url)
        trigger = env.state.issue_trigger()
        view = {"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []}
        assert client.views_open(trigger_id=trigger, view=view)["ok"]
        with pytest.raises(SlackApiError) as caught:
            client.views_open(trigger_id=trigger, view=view)
        assert caught.value.response["error"] == "exchanged_trigger_id"
