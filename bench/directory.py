"""The account directory at 50,000 accounts: import through the API, and a fresh process's first signal.

    .venv/bin/python bench/directory.py [--accounts 50000] [--chunk 500] [--starts 3]

On a scratch PostgreSQL database (BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/test):
1. ``POST /v1/accounts/import`` in chunks of 500 generated Nordic companies (bench/matching_speed.py's
   generator) against one running server; prints the total, and the first and last tenth's mean chunk time (a
   directory that rebuilt itself on every change made each chunk slower than the one before).
2. A second server, started while the first one imports the last chunks, must catch up by deltas: its signal
   about an account of the last chunk is attributed.
3. ``--starts`` fresh ``signal-pipeline serve`` processes over the 50,000 accounts: from the spawn, when
   /healthz answers, when /readyz says ready, and when the first signal is answered 201 with its account
   (posted as soon as /healthz answers, so it waits for whatever the process still has to load).
Baseline in the same run: the time a process takes to answer /healthz (Python start-up and imports).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import BIN, free_port, scratch_pg  # noqa: E402
from bench.matching_speed import build_directory  # noqa: E402


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "signal-pipeline"), "serve", "--no-migrate", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}", t0


def wait_for(url: str, path: str, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{path} never answered 200")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    accounts = build_directory(random.Random(7), args.accounts, datetime(2025, 1, 1, tzinfo=UTC))
    rows = [
        {
            "crm_id": a.crm_id,
            "name": a.name,
            **({"legal_name": a.legal_name} if a.legal_name else {}),
            "aliases": a.aliases,
            "domains": a.domains,
            "country": a.country,
        }
        for a in accounts
    ]
    url, admin, name = scratch_pg()
    env = {**os.environ, "SIGNAL_PIPELINE_DATABASE_URL": url, "SIGNAL_PIPELINE_LOG_LEVEL": "warning"}
    try:
        subprocess.run([BIN / "signal-pipeline", "migrate"], env=env, check=True, capture_output=True)
        key = subprocess.run(
            [BIN / "signal-pipeline", "keys", "create", "--name", "bench", "--scopes", "admin"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        auth = {"Authorization": f"Bearer {key}"}

        importer, base, _ = serve(env)
        observer, observer_url, _ = serve(env)
        try:
            wait_for(base, "/readyz")
            wait_for(observer_url, "/readyz")
            chunks = [rows[i : i + args.chunk] for i in range(0, len(rows), args.chunk)]
            times = []
            last_crm_id = ""
            rejected = 0  # rows the API's input limits refuse (generated names), reported
            with httpx.Client(base_url=base, headers=auth, timeout=120) as http:
                t0 = time.perf_counter()
                for chunk in chunks:
                    t = time.perf_counter()
                    r = http.post("/v1/accounts/import", json={"accounts": chunk})
                    r.raise_for_status()
                    got = r.json()
                    assert got["created"] + got["rejected"] == len(chunk), r.text[:300]
                    rejected += got["rejected"]
                    last_crm_id = next(
                        chunk[res["row"]]["crm_id"] for res in reversed(got["results"]) if res["status"] == "created"
                    )
                    times.append(time.perf_counter() - t)
                total = time.perf_counter() - t0
            tenth = max(1, len(times) // 10)
            print(
                f"import {len(rows):,} accounts in {len(chunks)} chunks of {args.chunk}: {total:.1f} s "
                f"({len(rows) / total:,.0f} accounts/s); mean chunk: "
                f"first tenth {statistics.fmean(times[:tenth]) * 1000:.0f} ms, "
                f"last tenth {statistics.fmean(times[-tenth:]) * 1000:.0f} ms; {rejected} rows rejected (target < 30 s)"
            )
            probe = {
                "contributor": {"email": "bench@ourco.se", "function": "support"},
                "customer": {"crm_account_id": last_crm_id},
                "kind": "other",
                "title": "A question from the last imported account",
                "body": "Probe of the directory's catch-up in another process.",
                "source": {"system": "bench", "reference": str(uuid.uuid4())},
            }
            t = time.perf_counter()
            r = httpx.post(observer_url + "/v1/signals", json=probe, headers=auth, timeout=60)
            caught = (r.json().get("account") or {}).get("crm_id") == last_crm_id
            print(
                f"another process (started before the import) attributes to the last imported account: {caught} "
                f"(that signal {1000 * (time.perf_counter() - t):.0f} ms, catch-up of {len(rows):,} rows included)"
            )
        finally:
            stop(importer)
            stop(observer)

        healthz, readyz, first = [], [], []
        for n in range(args.starts):
            proc, base, t0 = serve(env)
            try:
                wait_for(base, "/healthz")
                healthz.append(time.perf_counter() - t0)
                sample = accounts[(n * 7919) % len(accounts)]
                body = {
                    **probe,
                    "customer": {"name": sample.short},
                    "source": {"system": "bench", "reference": str(uuid.uuid4())},
                }
                r = httpx.post(base + "/v1/signals", json=body, headers=auth, timeout=60)
                assert r.status_code == 201, r.text[:300]
                first.append(time.perf_counter() - t0)
                wait_for(base, "/readyz")
                readyz.append(time.perf_counter() - t0)
            finally:
                stop(proc)
        print(
            f"fresh process over {len(rows):,} accounts ({args.starts} starts, median): "
            f"/healthz {statistics.median(healthz):.2f} s, "
            f"first signal answered {statistics.median(first):.2f} s (max {max(first):.2f} s; target < 2 s), "
            f"/readyz ready {statistics.median(readyz):.2f} s; first signal minus /healthz "
            f"{statistics.median(first) - statistics.median(healthz):.2f} s"
        )
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
