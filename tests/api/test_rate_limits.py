"""Request rate limits (app/core/ratelimit.py): one suite against every bucket store, then the HTTP contract.

Time is a ``FakeClock`` moved by hand: buckets refill without a single sleep, whatever the machine's load.
Redis tests run when TEST_REDIS_URL is set (.ci/run sets it); PostgreSQL ones when TEST_DATABASE_URL is.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.ratelimit import MemoryLimiter, PostgresLimiter, Quota, RateLimiter, RedisLimiter, build_limiter
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import BACKENDS, KeyFactory, signal_body

REDIS_URL = os.environ.get("TEST_REDIS_URL")
STORES = ["memory", *(["postgresql"] if "postgresql" in BACKENDS else []), *(["redis"] if REDIS_URL else [])]
SHARED_STORES = [s for s in STORES if s != "memory"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


LimiterFactory = Callable[[], RateLimiter]


@pytest.fixture(params=STORES)
def limiters(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[LimiterFactory]:
    """Makes limiters over one store; on PostgreSQL and Redis each has its own connections, as separate processes."""
    made: list[RateLimiter] = []
    prefix = f"test:{uuid.uuid4().hex}:"
    memory = MemoryLimiter(clock)

    def factory() -> RateLimiter:
        limiter: RateLimiter
        if request.param == "memory":
            limiter = memory
        elif request.param == "postgresql":
            limiter = PostgresLimiter(request.getfixturevalue("_postgresql_url"), pool_size=2, clock=clock)
        else:
            assert REDIS_URL is not None
            limiter = RedisLimiter(REDIS_URL, prefix=prefix, clock=clock)
        made.append(limiter)
        return limiter

    yield factory
    for limiter in made:
        limiter.close()


class TestBucket:
    def test_a_full_bucket_allows_its_burst_then_refuses(self, limiters: LimiterFactory) -> None:
        limiter, quota, key = limiters(), Quota(per_minute=60, burst=3), uuid.uuid4().hex
        taken = [limiter.take(key, quota) for _ in range(4)]
        assert [d.allowed for d in taken] == [True, True, True, False]
        assert [d.headers()["RateLimit-Remaining"] for d in taken] == ["2", "1", "0", "0"]
        assert taken[-1].headers()["Retry-After"] == "1"  # one token a second

    def test_tokens_come_back_at_the_configured_rate(self, limiters: LimiterFactory, clock: FakeClock) -> None:
        limiter, quota, key = limiters(), Quota(per_minute=30, burst=1), uuid.uuid4().hex
        assert limiter.take(key, quota).allowed
        refused = limiter.take(key, quota)
        assert not refused.allowed and refused.headers()["Retry-After"] == "2"
        clock.advance(1.0)
        assert not limiter.take(key, quota).allowed  # half a token
        clock.advance(1.0)
        assert limiter.take(key, quota).allowed

    def test_refill_stops_at_the_burst(self, limiters: LimiterFactory, clock: FakeClock) -> None:
        limiter, quota, key = limiters(), Quota(per_minute=60, burst=2), uuid.uuid4().hex
        limiter.take(key, quota)
        clock.advance(3600)
        assert [limiter.take(key, quota).allowed for _ in range(3)] == [True, True, False]

    def test_a_clock_going_back_adds_no_tokens(self, limiters: LimiterFactory, clock: FakeClock) -> None:
        limiter, quota, key = limiters(), Quota(per_minute=60, burst=1), uuid.uuid4().hex
        assert limiter.take(key, quota).allowed
        clock.advance(-30)
        assert not limiter.take(key, quota).allowed
        clock.advance(30.5)
        assert not limiter.take(key, quota).allowed  # the bucket was last written at the later time

    def test_keys_have_separate_buckets(self, limiters: LimiterFactory) -> None:
        limiter, quota = limiters(), Quota(per_minute=60, burst=1)
        assert limiter.take("a" + uuid.uuid4().hex, quota).allowed
        assert limiter.take("b" + uuid.uuid4().hex, quota).allowed


@pytest.mark.parametrize("limiters", SHARED_STORES, indirect=True)
def test_separate_limiters_on_one_store_share_the_budget(limiters: LimiterFactory) -> None:
    first, second = limiters(), limiters()
    quota, key = Quota(per_minute=60, burst=4), uuid.uuid4().hex
    answers = [limiter.take(key, quota).allowed for limiter in (first, second, first, second, first, second)]
    assert answers == [True, True, True, True, False, False]


@pytest.mark.parametrize("limiters", ["postgresql"] if "postgresql" in STORES else [], indirect=True)
def test_postgresql_bucket_is_one_row_per_key(limiters: LimiterFactory) -> None:
    limiter = limiters()
    assert isinstance(limiter, PostgresLimiter)
    key = uuid.uuid4().hex
    for _ in range(3):
        limiter.take(key, Quota(per_minute=60, burst=5))
    with limiter.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT tokens FROM rate_limit_buckets WHERE key = :k"), {"k": key}).all()
    assert [r.tokens for r in rows] == [2.0]


# --- over HTTP -----------------------------------------------------------------------------------------------


def limited_app(settings: Settings, clock: FakeClock) -> FastAPI:
    app = create_app(settings)
    app.state.rate_limiter.close()
    app.state.rate_limiter = build_limiter(settings, clock)
    return app


@pytest.fixture(params=["database", *(["redis"] if REDIS_URL else [])])
def limit_settings(request: pytest.FixtureRequest, db_url: str) -> Settings:
    """60 a minute, burst 2; buckets in the database's store, or in Redis."""
    redis = REDIS_URL if request.param == "redis" else None
    return Settings(
        database_url=db_url, log_format="text", rate_limit_per_minute=60, rate_limit_burst=2, redis_url=redis
    )


@pytest.fixture
def limited(limit_settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(limited_app(limit_settings, clock), raise_server_exceptions=False) as c:
        yield c


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class TestApiKeyLimit:
    def test_an_empty_bucket_answers_429_problem_with_retry_after(
        self, limited: TestClient, make_key: KeyFactory
    ) -> None:
        headers = bearer(make_key())
        first, second, third = (limited.get("/v1/signals", headers=headers) for _ in range(3))
        assert (first.status_code, second.status_code) == (200, 200)
        assert first.headers["RateLimit-Limit"] == "2" and first.headers["RateLimit-Remaining"] == "1"
        assert second.headers["RateLimit-Remaining"] == "0" and second.headers["RateLimit-Reset"] == "2"
        assert third.status_code == 429
        assert third.headers["content-type"] == "application/problem+json"
        assert third.json()["code"] == "rate_limited" and third.json()["status"] == 429
        assert third.headers["Retry-After"] == "1"
        assert third.headers["RateLimit-Limit"] == "2"
        assert third.headers["RateLimit-Remaining"] == "0"
        assert third.headers["RateLimit-Reset"] == "2"
        assert third.headers["RateLimit-Policy"] == "60;w=60;burst=2"

    def test_the_bucket_refills_with_time(self, limited: TestClient, make_key: KeyFactory, clock: FakeClock) -> None:
        headers = bearer(make_key())
        for _ in range(2):
            limited.get("/v1/signals", headers=headers)
        assert limited.get("/v1/signals", headers=headers).status_code == 429
        clock.advance(1.0)
        assert limited.get("/v1/signals", headers=headers).status_code == 200
        assert limited.get("/v1/signals", headers=headers).status_code == 429

    def test_a_refused_write_stores_nothing(self, limited: TestClient, make_key: KeyFactory, clock: FakeClock) -> None:
        headers = bearer(make_key())
        for _ in range(2):
            limited.get("/v1/signals", headers=headers)
        assert limited.post("/v1/signals", json=signal_body(), headers=headers).status_code == 429
        clock.advance(10)
        assert limited.get("/v1/signals", headers=headers).json()["items"] == []

    def test_each_key_has_its_own_budget(self, limited: TestClient, make_key: KeyFactory) -> None:
        spent, fresh = bearer(make_key()), bearer(make_key())
        for _ in range(3):
            limited.get("/v1/signals", headers=spent)
        assert limited.get("/v1/signals", headers=fresh).status_code == 200

    def test_unknown_keys_get_401_and_spend_nothing(self, limited: TestClient, make_key: KeyFactory) -> None:
        for _ in range(3):
            assert limited.get("/v1/signals", headers=bearer("sp_nope_nope")).status_code == 401
        assert limited.get("/v1/signals", headers=bearer(make_key())).status_code == 200

    def test_two_app_instances_share_one_budget(
        self, limit_settings: Settings, clock: FakeClock, make_key: KeyFactory
    ) -> None:
        if limit_settings.redis_url is None and limit_settings.database_url.startswith("sqlite"):
            pytest.skip("the embedded SQLite set-up is one process; its buckets are in that process")
        headers = bearer(make_key())
        with (
            TestClient(limited_app(limit_settings, clock), raise_server_exceptions=False) as one,
            TestClient(limited_app(limit_settings, clock), raise_server_exceptions=False) as two,
        ):
            assert one.app.state.engine is not two.app.state.engine  # type: ignore[attr-defined]
            assert one.get("/v1/signals", headers=headers).status_code == 200
            assert two.get("/v1/signals", headers=headers).status_code == 200
            assert one.get("/v1/signals", headers=headers).status_code == 429
            assert two.get("/v1/signals", headers=headers).status_code == 429

    def test_health_probes_are_not_limited(self, limited: TestClient) -> None:
        for _ in range(5):
            response = limited.get("/healthz")
            assert response.status_code == 200 and "RateLimit-Limit" not in response.headers


def test_zero_per_minute_turns_the_limit_off(db_url: str, make_key: KeyFactory) -> None:
    settings = Settings(database_url=db_url, log_format="text", rate_limit_per_minute=0, rate_limit_burst=1)
    with TestClient(create_app(settings)) as client:
        headers = bearer(make_key())
        responses = [client.get("/v1/signals", headers=headers) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "RateLimit-Limit" not in responses[0].headers


def test_the_default_is_600_a_minute_with_a_minute_of_burst(db_url: str) -> None:
    quota = create_app(Settings(database_url=db_url)).state.api_quota
    assert (quota.per_minute, quota.burst) == (600, 600)


def test_every_limited_operation_documents_429() -> None:
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            if path in ("/healthz", "/readyz"):
                assert "429" not in operation["responses"], (method, path)
                continue
            response = operation["responses"].get("429")
            assert response is not None, (method, path)
            assert "application/problem+json" in response["content"]
            assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
                response["headers"]
            )
