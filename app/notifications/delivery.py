"""The delivery worker: posts due notification deliveries, signed, with retries, backoff and a log.

Every request goes through the outbound guard (integrations/outbound.py): the URL is checked and its host resolved
again at each attempt, the connection goes to the address that passed, redirects are not followed.

At least once: a delivery is claimed by pushing its ``next_attempt_at`` out by a lease and committing, then
posted, then recorded. A worker that dies mid-post leaves the row to become due again when the lease ends,
so nothing is lost across restarts; receivers deduplicate on the event id. Order is not guaranteed.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from app.core.db import transaction
from app.core.timeutil import utcnow
from app.notifications import signing
from app.notifications.events import envelope
from app.notifications.models import DeliveryAttempt, NotificationDelivery, NotificationEvent, Subscription
from integrations import outbound
from integrations.outbound import OutboundPolicy

log = logging.getLogger("signal_pipeline.notifications")

# Candidates for settings: retry limit, backoff base and cap, lease, request timeout.
MAX_ATTEMPTS = 12
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=6)
JITTER = 0.2
LEASE = timedelta(seconds=60)
USER_AGENT = "signal-pipeline-notifications/1"


def backoff(attempts: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """Delay before attempt ``attempts + 1``: base·2^(attempts-1), capped, ±JITTER."""
    raw: timedelta = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)
    factor: float = 1 - JITTER + 2 * JITTER * rng()
    return raw * factor


@dataclass(frozen=True)
class _Claimed:
    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    attempts: int
    url: str
    secret: str
    body: bytes
    kind: str


def _claim(engine: Engine, limit: int, now: datetime) -> list[_Claimed]:
    with transaction(engine) as session:
        stmt = (
            select(NotificationDelivery)
            .where(
                col(NotificationDelivery.state).in_(("pending", "retrying")),
                col(NotificationDelivery.next_attempt_at) <= now,
            )
            .order_by(col(NotificationDelivery.next_attempt_at))
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.exec(stmt))
        if not rows:
            return []
        events = {
            e.id: e
            for e in session.exec(
                select(NotificationEvent).where(col(NotificationEvent.id).in_({r.event_id for r in rows}))
            )
        }
        subs = {
            s.id: s
            for s in session.exec(
                select(Subscription).where(col(Subscription.id).in_({r.subscription_id for r in rows}))
            )
        }
        claimed = []
        for row in rows:
            row.next_attempt_at = now + LEASE
            session.add(row)
            sub, event = subs[row.subscription_id], events[row.event_id]
            if not sub.active:
                row.state = "dead"
                row.last_error = "subscription disabled"
                continue
            body = json.dumps(envelope(event), separators=(",", ":"), sort_keys=True).encode()
            claimed.append(_Claimed(row.id, sub.id, event.id, row.attempts, sub.url, sub.secret, body, event.kind))
    return claimed


def _post(client: httpx.Client, item: _Claimed) -> tuple[int | None, str | None]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.HEADER: signing.sign(item.secret, item.body, int(time.time())),
        signing.EVENT_ID_HEADER: str(item.event_id),
        signing.EVENT_TYPE_HEADER: item.kind,
    }
    try:
        response = client.post(item.url, content=item.body, headers=headers)
    except outbound.RefusedURL as exc:
        # The URL passed when it was stored; its host now resolves somewhere it may not go (or rules tightened).
        return None, f"refused: {exc.code}"
    except httpx.HTTPError as exc:
        # The exception type only: messages can echo URLs.
        return None, type(exc).__name__
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def _record(engine: Engine, item: _Claimed, status: int | None, error: str | None, started: datetime, ms: int) -> str:
    now = utcnow()
    with transaction(engine) as session:
        row = session.get(NotificationDelivery, item.delivery_id, with_for_update=True)
        if row is None:  # subscription deleted meanwhile
            return "dead"
        row.attempts += 1
        row.last_status_code = status
        row.last_error = error
        if error is None:
            row.state, row.delivered_at = "delivered", now
        elif row.attempts >= MAX_ATTEMPTS:
            row.state = "dead"
        else:
            row.state = "retrying"
            row.next_attempt_at = now + backoff(row.attempts)
        session.add(row)
        session.add(
            DeliveryAttempt(
                delivery_id=row.id,
                subscription_id=item.subscription_id,
                event_id=item.event_id,
                attempt=row.attempts,
                started_at=started,
                duration_ms=ms,
                status_code=status,
                error=error,
                outcome=row.state,
            )
        )
        return row.state


def deliver_due(
    engine: Engine,
    *,
    limit: int = 100,
    now: datetime | None = None,
    policy: OutboundPolicy = OutboundPolicy(),
    client: httpx.Client | None = None,
) -> int:
    """Claim up to ``limit`` due deliveries, post each once, record the results; returns how many were tried.
    ``client`` must come from ``outbound.guarded_client`` (the loop reuses one); by default one for ``policy``."""
    claimed = _claim(engine, limit, now or utcnow())
    if not claimed:
        return 0
    own = client is None
    http = client or outbound.guarded_client(policy)
    try:
        for item in claimed:
            started = utcnow()
            t0 = time.monotonic()
            status, error = _post(http, item)
            state = _record(engine, item, status, error, started, int((time.monotonic() - t0) * 1000))
            log.info(
                "notification_attempt",
                extra={"delivery_id": str(item.delivery_id), "status_code": status, "state": state},
            )
    finally:
        if own:
            http.close()
    return len(claimed)


def run_delivery_loop(
    engine: Engine,
    stop: threading.Event,
    *,
    interval: float = 1.0,
    batch: int = 100,
    policy: OutboundPolicy = OutboundPolicy(),
) -> None:
    """Deliver until ``stop`` is set; sleeps ``interval`` when nothing is due. For the worker process."""
    with outbound.guarded_client(policy) as client:
        while not stop.is_set():
            try:
                tried = deliver_due(engine, limit=batch, client=client)
            except Exception as exc:  # the loop must outlive any one failure; the type says what happened
                log.warning("notification_loop_error", extra={"error_type": type(exc).__name__})
                tried = 0
            if tried == 0:
                stop.wait(interval)
