"""Where a signal's time goes, from request to commit: py-spy over a real server under bench/ingest.py's load.

    .venv/bin/python bench/profile_ingest.py [--seconds 15] [--clients 16] [--batch 1] [--out /tmp/ingest.txt]

A scratch PostgreSQL database (BENCH_DATABASE_URL) with bench/ingest.py's 2,000 accounts; one
``signal-pipeline serve`` process; bench/ingest.py's client posts varied signals while py-spy samples every
thread of the server (``--idle`` off: only frames on a CPU count). The per-key rate limit is kept in PostgreSQL
(the default store) and set too high to refuse anything, as in bench/ingest.py's "rate limit on" runs; the
errors line must read 0, or the profile is of refusals. Prints the flame graph as a summary: the
share of samples under each function (inclusive) for the project's own code and the libraries it calls, and
the functions that are on the CPU themselves (self). The collapsed stacks are kept in ``--out`` (open them
with speedscope or flamegraph.pl for the picture).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import BIN, free_port, load, requests_for, scratch_pg, seed_accounts, start  # noqa: E402

# Frames whose inclusive share is worth a line: the project's code and the layers a request passes through.
PREFIXES = ("app/", "schemas/", "sqlalchemy/", "sqlmodel/", "psycopg/", "pydantic/", "fastapi/", "starlette/")


def summarise(collapsed: Path, top: int) -> None:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        count = int(n)
        total += count
        frames = stack.split(";")
        seen = set()
        for frame in frames:
            name = _short(frame)
            if name not in seen:
                seen.add(name)
                inclusive[name] += count
        own[_short(frames[-1])] += count
    print(f"{total} samples")
    print("inclusive (share of all samples with the function on the stack):")
    for name, n in inclusive.most_common():
        if any(p in name for p in PREFIXES) and n / total >= 0.01:
            print(f"  {100 * n / total:5.1f}%  {name}")
            top -= 1
            if top == 0:
                break
    print("self (on the CPU itself):")
    for name, n in own.most_common(25):
        print(f"  {100 * n / total:5.1f}%  {name}")


def _short(frame: str) -> str:
    """'create_signal (app/signals/router.py:101)' -> 'create_signal (app/signals/router.py)'."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{func} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--out", default="/tmp/ingest-profile.txt")
    parser.add_argument(
        "--gil", action="store_true", help="only samples holding the GIL: Python's CPU, without threads that wait"
    )
    args = parser.parse_args()
    url, admin, name = scratch_pg()
    env = {
        **os.environ,
        "SIGNAL_PIPELINE_DATABASE_URL": url,
        "SIGNAL_PIPELINE_LOG_LEVEL": "warning",
        # As bench/ingest.py's "rate limit on" variant: every request takes a token, none is refused. The default
        # limit would answer most of the load with 429s and the profile would be of refusals.
        "SIGNAL_PIPELINE_RATE_LIMIT_PER_MINUTE": str(10**9),
    }
    try:
        subprocess.run([BIN / "signal-pipeline", "migrate"], env=env, check=True, capture_output=True)
        seed_accounts(url)
        key = subprocess.run(
            [BIN / "signal-pipeline", "keys", "create", "--name", "bench", "--scopes", "admin"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = free_port()
        host = f"127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        proc = start([str(BIN / "signal-pipeline"), "serve", "--no-migrate", "--port", str(port)], env, port)
        try:
            base = f"http://{host}"
            clients = args.clients
            asyncio.run(load(base, requests_for(200, args.batch, headers, host), clients, 2, args.batch))
            spy = subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--pid",
                    str(proc.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "250",
                    "--duration",
                    str(int(args.seconds)),
                    "--output",
                    args.out,
                    *(["--gil"] if args.gil else []),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
            n = int(args.seconds * (1500 if args.batch == 1 else 12))
            r = asyncio.run(load(base, requests_for(n, args.batch, headers, host), clients, args.seconds, args.batch))
            spy.wait(timeout=args.seconds + 60)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        print(
            f"load average {os.getloadavg()[0]:.2f}; {args.batch} signal(s)/request, {clients} clients: "
            f"{r['signals_per_s']:.0f} signals/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
            f"{int(r['errors'])} errors (profiler on)"
        )
        summarise(Path(args.out), args.top)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
