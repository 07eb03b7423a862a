"""Request rate limits: one token bucket per key (an API key, or a capture/webhook source and remote address).

A bucket holds up to ``burst`` tokens and refills at ``per_minute / 60`` tokens a second; a request takes one
token or, when there is none, is answered 429 with ``Retry-After``. The buckets must hold across every API
process, so the state lives where the processes meet, chosen by settings (``build_limiter``):

- Redis when ``SIGNAL_PIPELINE_REDIS_URL`` is set: one Lua script, atomic on the server;
- else PostgreSQL when the database is PostgreSQL: one ``INSERT … ON CONFLICT DO UPDATE … RETURNING``;
- else (the embedded SQLite default, one process) a dictionary in the process.

Each backend is one round trip per request (Redis: EVALSHA; PostgreSQL: one autocommit statement on a pool
without pre-ping) and computes the same refill (``_refill`` in Python, SQL and Lua; tests/api/test_rate_limits.py
runs one suite against all three). Times come from an injectable clock (seconds since the epoch), so tests
refill a bucket without sleeping and processes on one host agree. If the shared store cannot be reached the
request is let through and a warning logged: an outage of the limiter's store must not take the API down.

Response fields follow draft-ietf-httpapi-ratelimit-headers-06
(https://datatracker.ietf.org/doc/html/draft-ietf-httpapi-ratelimit-headers-06): ``RateLimit-Limit`` (the bucket
size), ``RateLimit-Remaining`` (whole tokens left), ``RateLimit-Reset`` (seconds until the bucket is full again)
and ``RateLimit-Policy`` (``<per minute>;w=60;burst=<size>``); a 429 also carries ``Retry-After`` (RFC 9110
section 10.2.3), the seconds until one token is back.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.db import normalise_url
from app.core.errors import AppError

if TYPE_CHECKING:
    from app.core.settings import Settings

log = logging.getLogger("signal_pipeline.ratelimit")

Clock = Callable[[], float]
STATE_KEY = "rate_limit"  # where the decision waits in the request's state for RateLimitHeaders


class TooManyRequests(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"


@dataclass(frozen=True)
class Quota:
    """``per_minute`` tokens a minute flow into a bucket of ``burst`` tokens."""

    per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError("a quota needs a positive rate and a burst of at least 1")

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    level: float  # tokens left after this request
    quota: Quota

    def headers(self) -> dict[str, str]:
        q = self.quota
        headers = {
            "RateLimit-Limit": str(q.burst),
            "RateLimit-Remaining": str(max(0, math.floor(self.level))),
            "RateLimit-Reset": str(max(0, math.ceil((q.burst - self.level) / q.per_second))),
            "RateLimit-Policy": f"{q.per_minute:g};w=60;burst={q.burst}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil((1.0 - self.level) / q.per_second)))
        return headers


def _refill(tokens: float, updated: float, now: float, quota: Quota) -> tuple[bool, float]:
    """The bucket rule (mirrored in SQL and Lua below): refill for the time passed, then take one token if any."""
    level = min(float(quota.burst), tokens + max(0.0, now - updated) * quota.per_second)
    return (True, level - 1.0) if level >= 1.0 else (False, level)


class RateLimiter(Protocol):
    # Whether ``take`` waits on another process (a network round trip): then it runs in the threadpool, off
    # the event loop; an in-process store is cheaper to call where the request already is.
    blocking: bool

    def take(self, key: str, quota: Quota) -> Decision:
        """Take one token from ``key``'s bucket (created full) and say whether the request may go on."""
        ...

    def close(self) -> None: ...


class MemoryLimiter:
    """Buckets in this process: right for the embedded SQLite set-up, which runs one process."""

    blocking = False

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, quota: Quota) -> Decision:
        now = self.clock()
        with self._lock:
            if len(self._buckets) > 100_000:
                self._buckets.clear()  # only full buckets are lost: a missing bucket is a full one
            tokens, updated = self._buckets.get(key, (float(quota.burst), now))
            allowed, level = _refill(tokens, updated, now, quota)
            self._buckets[key] = (level, max(updated, now))
        return Decision(allowed, level, quota)

    def close(self) -> None:
        self._buckets.clear()


# Table rate_limit_buckets (migration 0010). SET expressions read the row as it was (PostgreSQL UPDATE semantics),
# so ``level`` below is the same refill as ``_refill``; the row lock of ON CONFLICT makes it atomic per key.
# https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT
_LEVEL = "LEAST(:burst, b.tokens + GREATEST(0, :now - b.updated_at) * :rate)"
_PG_TAKE = sa.text(
    f"""
    INSERT INTO rate_limit_buckets AS b (key, tokens, updated_at, allowed)
    VALUES (:key, :burst - 1, :now, true)
    ON CONFLICT (key) DO UPDATE SET
        allowed = {_LEVEL} >= 1,
        tokens = CASE WHEN {_LEVEL} >= 1 THEN {_LEVEL} - 1 ELSE {_LEVEL} END,
        updated_at = GREATEST(b.updated_at, :now)
    RETURNING allowed, tokens
    """
)


class PostgresLimiter:
    """Buckets as rows of ``rate_limit_buckets``, shared by every process on the database."""

    blocking = True

    def __init__(self, database_url: str, *, pool_size: int, clock: Clock = time.time) -> None:
        self.clock = clock
        # Its own small pool: autocommit (no BEGIN/COMMIT round trips) and no pre-ping (which would be a second
        # round trip per request); a connection found dead is retried once on a fresh one instead.
        self.engine = sa.create_engine(
            normalise_url(database_url),
            pool_size=pool_size,
            max_overflow=pool_size,
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=False,
        )

    def take(self, key: str, quota: Quota) -> Decision:
        params = {"key": key, "burst": float(quota.burst), "rate": quota.per_second, "now": self.clock()}
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    allowed, level = conn.execute(_PG_TAKE, params).one()
                return Decision(bool(allowed), float(level), quota)
            except sa.exc.DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.engine.dispose()


# One atomic script per request (Redis runs a script without interleaving other commands:
# https://redis.io/docs/latest/develop/programmability/eval-intro/); redis-py's Script sends EVALSHA and loads
# the script only if the server does not know it. Numbers travel as strings: Redis truncates Lua numbers to
# integers in replies. The key expires once its bucket would be full again (a missing bucket is a full one).
_LUA_TAKE = """
local burst, rate, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens, updated = tonumber(state[1]), tonumber(state[2])
if tokens == nil or updated == nil then tokens, updated = burst, now end
local level = math.min(burst, tokens + math.max(0, now - updated) * rate)
local allowed = 0
if level >= 1 then level, allowed = level - 1, 1 end
redis.call('HSET', KEYS[1], 't', tostring(level), 'u', tostring(math.max(updated, now)))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - level) / rate * 1000) + 1000)
return {allowed, tostring(level)}
"""


class RedisLimiter:
    """Buckets as Redis hashes ``<prefix><key>``, shared by every process using the same Redis."""

    blocking = True

    def __init__(self, url: str, *, prefix: str = "signal-pipeline:ratelimit:", clock: Clock = time.time) -> None:
        import redis

        self.clock = clock
        self.prefix = prefix
        # Short timeouts: a slow Redis must cost a request little before the limiter lets it through.
        self.client: Any = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self.client.register_script(_LUA_TAKE)

    def take(self, key: str, quota: Quota) -> Decision:
        allowed, level = self._script(keys=[self.prefix + key], args=[quota.burst, quota.per_second, self.clock()])
        return Decision(bool(int(allowed)), float(level), quota)

    def close(self) -> None:
        self.client.close()


def build_limiter(settings: Settings, clock: Clock = time.time) -> RateLimiter:
    """Redis if configured, else PostgreSQL if that is the database, else this process (SQLite)."""
    if settings.redis_url is not None:
        return RedisLimiter(settings.redis_url.get_secret_value(), clock=clock)
    if not settings.database_url.startswith("sqlite"):
        # A small pool: one short statement per request; the database's connection slots are shared by all.
        return PostgresLimiter(settings.database_url, pool_size=min(settings.db_pool_size, 4), clock=clock)
    return MemoryLimiter(clock)


def api_key_quota(settings: Settings) -> Quota | None:
    """The per-API-key quota from settings; None when limits are off (``RATE_LIMIT_PER_MINUTE=0``)."""
    if settings.rate_limit_per_minute == 0:
        return None
    burst = settings.rate_limit_burst or settings.rate_limit_per_minute
    return Quota(settings.rate_limit_per_minute, burst)


def check(limiter: RateLimiter, key: str, quota: Quota) -> Decision | None:
    """Take a token; raise 429 when there is none. None when the shared store is unreachable (let through)."""
    try:
        decision = limiter.take(key, quota)
    except Exception as exc:  # any store failure: the limiter fails open, loudly
        log.warning("ratelimit.unavailable", extra={"error_type": type(exc).__name__})
        return None
    if not decision.allowed:
        raise TooManyRequests(
            f"more than {quota.per_minute:g} requests a minute (burst {quota.burst}); retry later",
            headers=decision.headers(),
        )
    return decision


def limit_request(request: Request, key: str, quota: Quota) -> None:
    """Limit this request by ``key`` (from a sync dependency or handler); the answer carries the fields."""
    limiter: RateLimiter = request.app.state.rate_limiter
    decision = check(limiter, key, quota)
    if decision is not None:
        setattr(request.state, STATE_KEY, decision)


async def limit_request_async(request: Request, key: str, quota: Quota) -> None:
    """``limit_request`` for async code: a store across the network is asked from the threadpool, off the
    event loop; the in-process store is asked in place."""
    limiter: RateLimiter = request.app.state.rate_limiter
    if limiter.blocking:
        await run_in_threadpool(limit_request, request, key, quota)
    else:
        limit_request(request, key, quota)


def remote_address(request: Request) -> str:
    """The caller's address (uvicorn puts the proxy's forwarded address here with --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


class RateLimitHeaders:
    """Adds the RateLimit fields of the request's decision, if one was taken, to a successful answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                decision = scope.get("state", {}).get(STATE_KEY)
                if isinstance(decision, Decision):
                    headers = list(message.get("headers", []))
                    present = {name.lower() for name, _ in headers}
                    for name, value in decision.headers().items():
                        if name.lower().encode() not in present:
                            headers.append((name.lower().encode(), value.encode()))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_fields)
