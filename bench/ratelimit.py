"""The rate limiter's own cost per request, store by store, in CPU time (which a loaded machine barely inflates).

    .venv/bin/python bench/ratelimit.py [--calls 2000] [--redis redis://127.0.0.1:6379/0]

PostgreSQL comes from BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test; a scratch database is
created next to it and dropped afterwards). For each store (this process, PostgreSQL, Redis) it times ``take`` as
the API calls it: in the threadpool (app/core/ratelimit.limit_request_async). Baseline in the same run: the same
threadpool hop with nothing to do. Prints this process's CPU ms per call and wall ms per call; the database's or
Redis's own CPU is not counted (bench/ingest.py's "vs no limit" lines give the end-to-end ratio).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core import ratelimit
from app.core.db import normalise_url
from app.core.migrate import upgrade

PG = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
# A quota nothing exceeds: every call takes the allowed path, as almost every request does.
QUOTA = ratelimit.Quota(per_minute=1e12, burst=10**12)
KEYS = 16  # distinct API keys, as 16 clients would use


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(call: Callable[[str], object], calls: int) -> tuple[float, float]:
    """CPU ms and wall ms per call of ``call`` run through the threadpool, as the middleware does."""

    async def run() -> None:
        for i in range(calls):
            await run_in_threadpool(call, f"key-{i % KEYS}")

    asyncio.run(run())  # warm-up: connections, script load, thread start
    cpu, wall = cpu_seconds(), time.perf_counter()
    asyncio.run(run())
    return (cpu_seconds() - cpu) / calls * 1e3, (time.perf_counter() - wall) / calls * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="'' to skip Redis")
    args = parser.parse_args()
    print(f"{args.calls} calls per store; load average {os.getloadavg()[0]:.1f} at start")

    base_cpu, base_wall = measure(lambda _key: None, args.calls)
    print(f"{'threadpool hop only':22} cpu {base_cpu:6.3f} ms/call  wall {base_wall:6.3f} ms/call  (baseline)")

    admin = sa.create_engine(normalise_url(PG), isolation_level="AUTOCOMMIT")
    scratch = f"sp_ratelimit_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{scratch}"'))
    pg_url = PG.rsplit("/", 1)[0] + "/" + scratch
    try:
        upgrade(pg_url)
        stores: list[tuple[str, ratelimit.RateLimiter]] = [
            ("this process", ratelimit.MemoryLimiter()),
            ("PostgreSQL", ratelimit.PostgresLimiter(pg_url, pool_size=4)),
        ]
        if args.redis:
            stores.append(("Redis", ratelimit.RedisLimiter(args.redis, prefix=f"bench:{scratch}:")))
        for name, limiter in stores:
            try:
                cpu, wall = measure(lambda key, lim=limiter: lim.take(key, QUOTA), args.calls)  # type: ignore[misc]
            finally:
                limiter.close()
            print(
                f"{name:22} cpu {cpu:6.3f} ms/call  wall {wall:6.3f} ms/call  "
                f"limiter alone cpu {cpu - base_cpu:6.3f} ms  wall {wall - base_wall:6.3f} ms"
            )
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
