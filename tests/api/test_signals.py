"""POST/GET /v1/signals: storage, replay, deduplication by source reference, validation, pagination."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.db import make_engine
from tests.api.helpers import row_counts
from tests.conftest import signal_body


class TestCreateSignal:
    def test_stores_and_returns_the_signal(self, client: TestClient, auth: dict[str, str], db_url: str) -> None:
        r = client.post("/v1/signals", json=signal_body(), headers=auth)
        assert r.status_code == 201, r.text
        got = r.json()
        assert r.headers["location"] == f"/v1/signals/{got['id']}"
        assert got["contributor"]["email"] == "anna.berg@ourco.se"
        assert got["kind"] == "inefficiency"
        # Guarantee 1: a 2xx answer is committed, visible to a fresh connection.
        fresh = make_engine(db_url)
        with fresh.connect() as conn:
            n = conn.execute(
                sa.text("SELECT count(*) FROM signals WHERE id = :i"),
                {"i": uuid.UUID(got["id"]) if fresh.dialect.name == "postgresql" else uuid.UUID(got["id"]).hex},
            ).scalar_one()
        fresh.dispose()
        assert n == 1

    def test_same_source_reference_twice_stores_one_signal(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        body = signal_body(source={"system": "jira", "reference": "SUP-1"})
        first = client.post("/v1/signals", json=body, headers=auth)
        again = client.post("/v1/signals", json={**body, "title": "Reworded by the tool"}, headers=auth)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"]
        assert row_counts(engine)["signals"] == 1

    def test_same_reference_from_another_system_is_another_signal(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        a = client.post("/v1/signals", json=signal_body(source={"system": "jira", "reference": "X-1"}), headers=auth)
        b = client.post("/v1/signals", json=signal_body(source={"system": "zendesk", "reference": "X-1"}), headers=auth)
        assert (a.status_code, b.status_code) == (201, 201)
        assert a.json()["id"] != b.json()["id"]

    def test_contributor_details_are_kept_and_completed(self, client: TestClient, auth: dict[str, str]) -> None:
        client.post(
            "/v1/signals",
            json=signal_body(contributor={"email": "Per@OurCo.se", "function": "delivery"}),
            headers=auth,
        )
        client.post(
            "/v1/signals",
            json=signal_body(contributor={"email": "per@ourco.se", "name": "Per Ek"}),
            headers=auth,
        )
        got = client.get("/v1/contributors/per@ourco.se", headers=auth).json()
        assert (got["name"], got["function"], got["signal_count"]) == ("Per Ek", "delivery", 2)


class TestIdempotencyKey:
    def test_replay_returns_the_first_answer(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        headers = {**auth, "Idempotency-Key": "req-1"}
        body = signal_body()
        first = client.post("/v1/signals", json=body, headers=headers)
        second = client.post("/v1/signals", json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert second.headers.get("idempotent-replayed") == "true"
        assert "idempotent-replayed" not in first.headers
        assert second.json() == first.json()
        assert row_counts(engine)["signals"] == 1

    def test_key_reused_with_another_body_is_422(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        headers = {**auth, "Idempotency-Key": "req-2"}
        client.post("/v1/signals", json=signal_body(), headers=headers)
        before = row_counts(engine)
        r = client.post("/v1/signals", json=signal_body(title="Something else entirely"), headers=headers)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "idempotency_key_reused"
        assert r.json()["errors"][0]["field"] == "header.Idempotency-Key"
        assert row_counts(engine) == before

    def test_keys_are_scoped_to_the_api_key(self, client: TestClient, make_key: object, engine: sa.Engine) -> None:
        k1 = {"Authorization": f"Bearer {make_key('signals:write:any')}", "Idempotency-Key": "shared"}  # type: ignore[operator]
        k2 = {"Authorization": f"Bearer {make_key('signals:write:any')}", "Idempotency-Key": "shared"}  # type: ignore[operator]
        a = client.post("/v1/signals", json=signal_body(), headers=k1)
        b = client.post("/v1/signals", json=signal_body(), headers=k2)
        assert (a.status_code, b.status_code) == (201, 201)
        assert "idempotent-replayed" not in b.headers

    def test_batch_replay(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        headers = {**auth, "Idempotency-Key": "batch-1"}
        payload = {"signals": [signal_body(), signal_body()]}
        first = client.post("/v1/signals/batch", json=payload, headers=headers)
        second = client.post("/v1/signals/batch", json=payload, headers=headers)
        assert first.status_code == second.status_code == 200
        assert second.headers.get("idempotent-replayed") == "true"
        assert second.json() == first.json()
        assert row_counts(engine)["signals"] == 2


class TestValidation:
    def _rejected(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, body: object, field: str
    ) -> dict[str, object]:
        before = row_counts(engine)
        r = client.post("/v1/signals", json=body, headers=auth)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == 422 and problem["title"]
        assert field in [e["field"] for e in problem["errors"]], problem
        assert row_counts(engine) == before, "a rejected request must store nothing"
        return problem  # type: ignore[no-any-return]

    def test_nul_byte(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        self._rejected(client, auth, engine, signal_body(body="before\x00after"), "body")

    def test_unknown_field(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        self._rejected(client, auth, engine, signal_body(priority="high"), "priority")

    def test_unknown_nested_field(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        self._rejected(client, auth, engine, signal_body(customer={"name": "Acme", "vat": "1"}), "customer.vat")

    def test_bad_email(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        self._rejected(client, auth, engine, signal_body(contributor={"email": "not-an-address"}), "contributor.email")

    def test_customer_needs_one_hint(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        problem = self._rejected(client, auth, engine, signal_body(customer={}), "customer")
        assert "at least one" in str(problem["errors"])

    def test_negative_amount(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        self._rejected(client, auth, engine, signal_body(value={"amount": -1, "currency": "SEK"}), "value.amount")

    def test_unknown_currency(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        self._rejected(client, auth, engine, signal_body(value={"amount": 10, "currency": "XYZ"}), "value.currency")

    def test_title_too_long(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        self._rejected(client, auth, engine, signal_body(title="x" * 256), "title")

    def test_unknown_kind(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        problem = self._rejected(client, auth, engine, signal_body(kind="gossip"), "kind")
        assert "renewal_risk" in str(problem["errors"])

    def test_future_observation(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        self._rejected(client, auth, engine, signal_body(observed_at="2999-01-01T00:00:00Z"), "observed_at")

    def test_bad_domain(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        self._rejected(client, auth, engine, signal_body(customer={"domain": "not a domain"}), "customer.domain")

    def test_not_json(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        before = row_counts(engine)
        r = client.post("/v1/signals", content=b"{not json", headers={**auth, "content-type": "application/json"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert row_counts(engine) == before

    def test_body_over_one_mib_is_413(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        before = row_counts(engine)
        big = signal_body(body="x" * int(1.1 * 1024 * 1024))
        r = client.post("/v1/signals", json=big, headers=auth)
        assert r.status_code == 413
        assert r.headers["content-type"].startswith("application/problem+json")
        assert row_counts(engine) == before


class TestBatch:
    def test_one_bad_item_never_rejects_the_others(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        dup = signal_body(source={"system": "jira", "reference": "B-1"})
        payload = {"signals": [dup, signal_body(kind="gossip"), signal_body(title="x\x00"), dup, signal_body()]}
        r = client.post("/v1/signals/batch", json=payload, headers=auth)
        assert r.status_code == 200, r.text
        got = r.json()
        assert [x["status"] for x in got["results"]] == [201, 422, 422, 200, 201]
        assert (got["created"], got["existing"], got["rejected"]) == (2, 1, 2)
        assert got["results"][1]["errors"][0]["field"] == "kind"
        assert got["results"][2]["errors"][0]["field"] == "title"
        assert row_counts(engine)["signals"] == 2

    def test_more_than_500_is_rejected_whole(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        r = client.post("/v1/signals/batch", json={"signals": [signal_body()] * 501}, headers=auth)
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "signals"
        assert row_counts(engine)["signals"] == 0


class TestReadSignals:
    def test_get_unknown_is_404_problem(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.get(f"/v1/signals/{uuid.uuid4()}", headers=auth)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")

    def test_cursor_pagination_visits_every_signal_once(self, client: TestClient, auth: dict[str, str]) -> None:
        ids = {client.post("/v1/signals", json=signal_body(), headers=auth).json()["id"] for _ in range(7)}
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, str | int] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/signals", params=params, headers=auth).json()
            seen += [s["id"] for s in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == 7 and set(seen) == ids
        assert seen == sorted(seen, reverse=True)

    def test_filters(self, client: TestClient, auth: dict[str, str]) -> None:
        client.post("/v1/signals", json=signal_body(kind="expansion"), headers=auth)
        client.post("/v1/signals", json=signal_body(contributor={"email": "b@ourco.se"}), headers=auth)
        by_kind = client.get("/v1/signals", params={"kind": "expansion"}, headers=auth).json()["items"]
        assert [s["kind"] for s in by_kind] == ["expansion"]
        by_person = client.get("/v1/signals", params={"contributor": "b@ourco.se"}, headers=auth).json()["items"]
        assert [s["contributor"]["email"] for s in by_person] == ["b@ourco.se"]
        later = client.get("/v1/signals", params={"from": "2199-01-01T00:00:00Z"}, headers=auth).json()["items"]
        assert later == []

    def test_limit_over_200_is_422(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.get("/v1/signals", params={"limit": 201}, headers=auth)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.limit"

    def test_bad_cursor_is_422(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.get("/v1/signals", params={"cursor": "!!"}, headers=auth)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.cursor"


class TestIdempotencyKeyExpiry:
    def test_an_expired_key_is_new_again(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        headers = {**auth, "Idempotency-Key": "old-key"}
        first = client.post("/v1/signals", json=signal_body(), headers=headers)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE idempotency_records SET created_at = :t"), {"t": "2000-01-01 00:00:00"})
        second = signal_body(title="A different signal")
        other = client.post("/v1/signals", json=second, headers=headers)
        assert (first.status_code, other.status_code) == (201, 201)
        assert "idempotent-replayed" not in other.headers and other.json()["id"] != first.json()["id"]
        replay = client.post("/v1/signals", json=second, headers=headers)
        assert replay.headers.get("idempotent-replayed") == "true" and replay.json()["id"] == other.json()["id"]


class TestReviewedEdges:
    def test_observation_before_1970_is_422(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        before = row_counts(engine)
        r = client.post("/v1/signals", json=signal_body(observed_at="1969-12-31T00:00:00Z"), headers=auth)
        assert r.status_code == 422 and r.json()["errors"][0] == {
            "field": "observed_at",
            "reason": "must be in 1970 or later",
            "code": "too_old",
        }
        assert row_counts(engine) == before

    def test_replay_keeps_the_location(self, client: TestClient, auth: dict[str, str]) -> None:
        headers = {**auth, "Idempotency-Key": "loc-1"}
        body = signal_body()
        first = client.post("/v1/signals", json=body, headers=headers)
        again = client.post("/v1/signals", json=body, headers=headers)
        assert again.headers["location"] == first.headers["location"] == f"/v1/signals/{first.json()['id']}"
