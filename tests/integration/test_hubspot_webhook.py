"""Webhook v3 signature matrix and deal.propertyChange parsing, with deliveries built by the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from integrations.base import RawRequest, WebhookRejected
from integrations.sandbox.hubspot import sign_webhook_v3, webhook_delivery
from schemas.crm import OutcomeStatus
from tests.integration.hubspot_env import CLIENT_SECRET, HubSpotEnv
from tests.integration.test_crm_conformance import make_record, seed

URL = "https://signals.example.com/v1/webhooks/hubspot?portal=4400001"
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def delivery(
    events: list[dict[str, object]], *, at: datetime = NOW, url: str = URL, secret: str = CLIENT_SECRET
) -> RawRequest:
    headers, body = webhook_delivery(events, url=url, client_secret=secret, timestamp_ms=int(at.timestamp() * 1000))
    return RawRequest(method="POST", url=url, headers=headers, body=body, received_at=NOW)


@pytest.fixture
def won_deal(hs_env: HubSpotEnv) -> tuple[str, list[dict[str, object]]]:
    """A synced deal the seller moved to closed-won, and the events HubSpot would deliver for it."""
    account, owner = seed(hs_env)
    [result] = hs_env.adapter.upsert_opportunities([make_record(1, account, owner)])
    hs_env.control.drain_webhook_events()
    assert result.crm_id
    hs_env.control.set_stage(result.crm_id, "closedwon", amount=4200.0)
    return result.crm_id, hs_env.control.drain_webhook_events()


class TestSignature:
    def test_valid_delivery_yields_current_outcome(self, hs_env: HubSpotEnv, won_deal: tuple[str, list]) -> None:
        crm_id, events = won_deal

        outcomes = hs_env.adapter.verify_webhook(delivery(events))

        assert [(o.crm_id, o.opportunity_id, o.status, str(o.amount)) for o in outcomes] == [
            (crm_id, "opp-00001", OutcomeStatus.won, "4200")
        ]

    def test_replayed_delivery_is_harmless(self, hs_env: HubSpotEnv, won_deal: tuple[str, list]) -> None:
        _, events = won_deal
        first = hs_env.adapter.verify_webhook(delivery(events))
        assert hs_env.adapter.verify_webhook(delivery(events)) == first

    @pytest.mark.parametrize("case", ["flipped_signature", "flipped_body", "wrong_secret", "other_url", "other_method"])
    def test_tampering_is_rejected(self, hs_env: HubSpotEnv, won_deal: tuple[str, list], case: str) -> None:
        raw = delivery(won_deal[1], secret="not-the-secret" if case == "wrong_secret" else CLIENT_SECRET)
        headers = dict(raw.headers)
        body = raw.body
        url, method = raw.url, raw.method
        if case == "flipped_signature":
            sig = bytearray(headers["X-HubSpot-Signature-v3"].encode())
            sig[5] ^= 0x01
            headers["X-HubSpot-Signature-v3"] = sig.decode()
        elif case == "flipped_body":
            flipped = bytearray(body)
            flipped[len(flipped) // 2] ^= 0x01
            body = bytes(flipped)
        elif case == "other_url":
            url = URL.replace("portal=", "portal=9")
        elif case == "other_method":
            method = "PUT"

        with pytest.raises(WebhookRejected) as info:
            hs_env.adapter.verify_webhook(RawRequest(method, url, headers, body, received_at=NOW))

        assert info.value.reason == "signature mismatch"

    @pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)], ids=["stale", "future"])
    def test_timestamp_outside_five_minutes_is_rejected(
        self, hs_env: HubSpotEnv, won_deal: tuple[str, list], skew: timedelta
    ) -> None:
        with pytest.raises(WebhookRejected) as info:
            hs_env.adapter.verify_webhook(delivery(won_deal[1], at=NOW + skew))
        assert "replay window" in info.value.reason

    @pytest.mark.parametrize("skew", [timedelta(minutes=-4), timedelta(minutes=4)], ids=["late", "early"])
    def test_timestamp_inside_the_window_is_accepted(
        self, hs_env: HubSpotEnv, won_deal: tuple[str, list], skew: timedelta
    ) -> None:
        assert hs_env.adapter.verify_webhook(delivery(won_deal[1], at=NOW + skew))

    @pytest.mark.parametrize("header", ["X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"])
    def test_missing_header_is_rejected(self, hs_env: HubSpotEnv, won_deal: tuple[str, list], header: str) -> None:
        raw = delivery(won_deal[1])
        headers = {k: v for k, v in raw.headers.items() if k != header}
        with pytest.raises(WebhookRejected):
            hs_env.adapter.verify_webhook(RawRequest(raw.method, raw.url, headers, raw.body, received_at=NOW))

    def test_headers_are_case_insensitive_and_uri_escapes_decoded(
        self, hs_env: HubSpotEnv, won_deal: tuple[str, list]
    ) -> None:
        # HubSpot signs the URI with %3A, %2F, ... decoded; we receive it encoded
        signed = "https://signals.example.com/v1/webhooks/hubspot?next=a:b/c"
        received = "https://signals.example.com/v1/webhooks/hubspot?next=a%3Ab%2Fc"
        raw = delivery(won_deal[1], url=signed)
        headers = {k.lower(): v for k, v in raw.headers.items()}
        assert hs_env.adapter.verify_webhook(RawRequest("POST", received, headers, raw.body, received_at=NOW))

    def test_without_client_secret_everything_is_rejected(self, hs_env: HubSpotEnv, won_deal: tuple[str, list]) -> None:
        adapter = hs_env.make_adapter(client_secret=None)
        with pytest.raises(WebhookRejected):
            adapter.verify_webhook(delivery(won_deal[1]))


class TestParsing:
    def test_foreign_deals_and_other_events_are_ignored(self, hs_env: HubSpotEnv, won_deal: tuple[str, list]) -> None:
        foreign = hs_env.control.seed_deal(dealname="Seller's own", dealstage="closedwon")
        events = [
            {
                "subscriptionType": "deal.propertyChange",
                "objectId": int(foreign),
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
                "occurredAt": 1,
                "eventId": 1,
            },
            {"subscriptionType": "contact.creation", "objectId": 5, "occurredAt": 1, "eventId": 2},
            {
                "subscriptionType": "deal.propertyChange",
                "objectId": 404404,
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
                "occurredAt": 1,
                "eventId": 3,
            },
            *won_deal[1],
        ]

        outcomes = hs_env.adapter.verify_webhook(delivery(events))

        assert [o.crm_id for o in outcomes] == [won_deal[0]]

    def test_body_that_is_not_an_event_array_is_rejected(self, hs_env: HubSpotEnv) -> None:
        headers, _ = webhook_delivery(
            [], url=URL, client_secret=CLIENT_SECRET, timestamp_ms=int(NOW.timestamp() * 1000)
        )
        body = json.dumps({"not": "a list"}).encode()
        ts = headers["X-HubSpot-Request-Timestamp"]
        headers["X-HubSpot-Signature-v3"] = sign_webhook_v3(CLIENT_SECRET, "POST", URL, body, int(ts))
        with pytest.raises(WebhookRejected):
            hs_env.adapter.verify_webhook(RawRequest("POST", URL, headers, body, received_at=NOW))
