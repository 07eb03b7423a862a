"""Ingest throughput and latency over real HTTP, against a bare-INSERT FastAPI baseline measured in the same run.

    .venv/bin/python bench/ingest.py [--seconds 10] [--clients 16] [--workers 2] [--backends postgresql,sqlite]
                                     [--rounds 1] [--redis redis://127.0.0.1:6379/0]

PostgreSQL comes from BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test; a scratch database
is created next to it and dropped afterwards). Prints signals/s and p50/p99 latency, one signal per request and
through the batch endpoint, and the ratio to the baseline; and the CPU each signal cost the server's processes
("api") and its PostgreSQL backends ("db"), from /proc: figures the shared machine's load does not inflate.

The service runs with its per-key rate limit off (RATE_LIMIT_PER_MINUTE=0) and on (a limit too high to refuse
anything, so every request pays the limiter's round trip: the database's bucket store, and Redis with --redis);
the "vs no limit" ratio is the limiter's cost. ``--rounds N`` repeats the service variants in turn and reports
each one's median round, so a load spike on a shared machine hits every variant alike.

Every run (each variant, each round) starts from the same data: a copy of one migrated, seeded database (a
PostgreSQL template, a copied SQLite file) and the same sequence of request bodies. Without that, each run would
meet the opportunities the runs before it opened: more matching candidates per account, so later variants
would be slower for a reason that is not theirs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

ACCOUNTS = [(f"ACC-{i:05d}", f"Kund {i} AB", f"kund{i}.se") for i in range(2000)]
FUNCTIONS = ["support", "delivery", "project", "consulting", "engineering", "customer_success"]
KINDS = ["changed_need", "new_use_case", "inefficiency", "expansion", "renewal_risk"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TOPICS = [
    "supplier invoices keyed in by hand",
    "meter data volumes growing fourfold",
    "onboarding of seasonal staff",
    "claims arriving as free-text e-mail",
    "a new warehouse in Gothenburg",
    "renewal at risk after outages",
    "licence count above contract",
    "a second brand wants the same portal",
    "manual month-end reconciliation",
    "customer service drowning in move requests",
    "an API for their resellers",
    "replacing their field-service app",
    "expanding support to Norway",
    "expanding support to Denmark",
    "data warehouse costs doubling",
    "e-signing for contracts",
    "fleet telematics integration",
    "GDPR deletion requests handled manually",
]
SYSTEMS = ["SAP", "Dynamics", "Fortnox", "Visma", "Salesforce", "ServiceNow", "Workday", "IFS", "Jeeves"]
DEPARTMENTS = ["finance", "HR", "customer service", "IT", "logistics", "sales ops", "procurement"]


def body(i: int) -> dict[str, object]:
    """A varied, realistic signal; the same seed gives the same signal."""
    rnd = random.Random(i)
    crm_id, name, domain = ACCOUNTS[rnd.randrange(len(ACCOUNTS))]
    topic = rnd.choice(TOPICS)
    system, dept = rnd.choice(SYSTEMS), rnd.choice(DEPARTMENTS)
    return {
        "contributor": {"email": f"person{rnd.randrange(5000)}@ourco.se", "function": rnd.choice(FUNCTIONS)},
        "customer": rnd.choice([{"crm_account_id": crm_id}, {"domain": domain}, {"name": name}]),
        "kind": rnd.choice(KINDS),
        "title": f"{topic.capitalize()} ({dept})",
        "body": (
            f"Talked to {dept} at {name}: {topic}. They run {system} and handle about {rnd.randrange(50, 5000)} "
            f"cases a month; {rnd.choice(['it is getting worse', 'they asked us for ideas', 'budget is coming'])}."
        ),
        "source": {"system": "bench", "reference": str(uuid.uuid4())},
    }


def scratch_pg(template: str | None = None) -> tuple[str, sa.Engine, str]:
    """A new database beside BENCH_DATABASE_URL (a copy of ``template`` if given): its URL, an admin engine,
    its name."""
    name = f"sp_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    return PG.rsplit("/", 1)[0] + "/" + name, admin, name


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not start: {cmd}")


_seed = iter(range(10**9))


def restart_bodies() -> None:
    """The next requests repeat the bodies from the first one on: every run posts the same sequence."""
    global _seed
    _seed = iter(range(10**9))


def requests_for(n: int, batch: int, headers: dict[str, str], host: str) -> list[bytes]:
    """Serialised HTTP requests, prepared before the clock starts so the client measures the server."""
    path = "/v1/signals" if batch == 1 else "/v1/signals/batch"
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    out = []
    for _ in range(n):
        payload = body(next(_seed)) if batch == 1 else {"signals": [body(next(_seed)) for _ in range(batch)]}
        data = json.dumps(payload).encode()
        out.append(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{head}Content-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
    return out


async def load(url: str, requests: list[bytes], clients: int, seconds: float, batch: int) -> dict[str, float]:
    """Keep-alive HTTP/1.1 over raw asyncio streams: a client far lighter than the server it measures."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    count = errors = 0
    pending = iter(requests)
    stop_at = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal count, errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < stop_at:
                request = next(pending, None)
                if request is None:
                    return
                t0 = time.perf_counter()
                try:
                    writer.write(request)
                    status = int((await reader.readline()).split()[1])
                    length = 0
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        name, _, value = line.decode("latin-1").partition(":")
                        if name.lower() == "content-length":
                            length = int(value)
                    await reader.readexactly(length)
                except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
                    # A connection the server dropped (seen under a load average above 10): counted as an
                    # error, and the client goes on over a new one instead of ending the whole run.
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                    continue
                latencies.append(time.perf_counter() - t0)
                if status in (200, 201):
                    count += batch
                else:
                    errors += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "signals_per_s": count / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "errors": errors,
        "requests": len(latencies),
        "elapsed_s": elapsed,
    }


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (/proc), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _backends(admin: sa.Engine | None, database: str | None) -> list[int]:
    """The PostgreSQL backends connected to ``database`` (its pool keeps them while the server runs)."""
    if admin is None or database is None:
        return []
    with admin.connect() as conn:
        rows = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": database})
        return [int(r[0]) for r in rows]


def measured(
    server: int,
    admin: sa.Engine | None,
    database: str | None,
    url: str,
    requests: list[bytes],
    clients: int,
    seconds: float,
    batch: int,
) -> dict[str, float]:
    """``load``'s figures plus the CPU each signal cost the server's processes and its database backends: a
    figure the machine's other load does not inflate (the wall-clock ones move with it). Backends come and go
    (a pool closes its overflow connections), so they are sampled through the run: one that ends between two
    samples loses at most 0.2 s of its CPU."""
    procs = _tree(server)
    api_before = sum(map(_cpu_seconds, procs))
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        for pid in _backends(admin, database):
            cpu = _cpu_seconds(pid)
            first.setdefault(pid, cpu)
            if cpu:
                last[pid] = cpu

    def poll() -> None:
        while not done.wait(0.2):
            sample()

    sample()
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        r = asyncio.run(load(url, requests, clients, seconds, batch))
    finally:
        done.set()
        poller.join()
    sample()
    api = sum(map(_cpu_seconds, procs)) - api_before
    db = sum(last.get(pid, 0.0) - cpu for pid, cpu in first.items())
    signals = max(1.0, r["signals_per_s"] * r["elapsed_s"])
    return {**r, "api_cpu_ms": api * 1000 / signals, "db_cpu_ms": db * 1000 / signals}


def seed_accounts(url: str) -> None:
    from app.accounts.models import Account
    from app.core.db import make_engine, transaction

    engine = make_engine(url)
    with transaction(engine) as session:
        for crm_id, name, domain in ACCOUNTS:
            session.add(Account(crm="import", crm_id=crm_id, name=name, domains=[domain]))
    engine.dispose()


def run_backend(backend: str, args: argparse.Namespace) -> list[tuple[str, dict[str, float]]]:
    tmp = Path(tempfile.mkdtemp(prefix="sp-bench-"))
    made: list[str] = []  # scratch PostgreSQL databases, dropped at the end
    admin: sa.Engine | None = None
    if backend == "postgresql":
        template_url, admin, template = scratch_pg()
        made.append(template)
    else:
        template_url = f"sqlite:///{tmp}/template.db"
    env = {
        **os.environ,
        "SIGNAL_PIPELINE_DATABASE_URL": template_url,
        "SIGNAL_PIPELINE_LOG_LEVEL": "warning",
        "SIGNAL_PIPELINE_SECRET_KEYS": Fernet.generate_key().decode(),  # no key file written under ./var
        "PYTHONPATH": str(ROOT),
    }
    # The seeded database every run copies: migrated, 2,000 accounts, the bench's API key.
    subprocess.run([BIN / "signal-pipeline", "migrate"], env=env, check=True, capture_output=True)
    seed_accounts(template_url)
    key = subprocess.run(
        [BIN / "signal-pipeline", "keys", "create", "--name", "bench", "--scopes", "admin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()

    def fresh(copy: bool) -> tuple[str, str | None]:
        """A database for one run (its URL and PostgreSQL name): a copy of the seeded one, or empty (the bare
        endpoint makes its table)."""
        if backend == "postgresql":
            url, _, name = scratch_pg(template if copy else None)
            made.append(name)
            return url, name
        path = tmp / f"run-{len(list(tmp.iterdir()))}.db"
        if copy:
            shutil.copyfile(tmp / "template.db", path)
        return f"sqlite:///{path}", None

    workers = args.workers if backend == "postgresql" else 1
    headers = {"Authorization": f"Bearer {key}"}
    serve: list[Path | str] = [BIN / "signal-pipeline", "serve", "--workers", str(workers), "--no-migrate"]
    bare: list[Path | str] = [
        BIN / "uvicorn",
        "bench.bare_app:app",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    on = {"SIGNAL_PIPELINE_RATE_LIMIT_PER_MINUTE": str(10**9)}  # every request takes a token; none is refused
    variants: list[tuple[str, list[Path | str], dict[str, str]]] = [
        ("no rate limit", serve, {"SIGNAL_PIPELINE_RATE_LIMIT_PER_MINUTE": "0"}),
        ("limit in " + ("db" if backend == "postgresql" else "process"), serve, on),
    ]
    if workers > 1:
        # The same service in one process, to print what the extra workers bring (issue 13: >= 1.3x with 2).
        one = [BIN / "signal-pipeline", "serve", "--workers", "1", "--no-migrate"]
        variants.insert(0, ("1 process", one, {"SIGNAL_PIPELINE_RATE_LIMIT_PER_MINUTE": "0"}))
    if args.redis and backend == "postgresql":
        variants.append(("limit in redis", serve, {**on, "SIGNAL_PIPELINE_REDIS_URL": args.redis}))
    rounds: dict[str, list[dict[str, float]]] = {}
    try:
        plan = [("bare INSERT", [*bare, "--no-access-log"], {})] + variants * args.rounds
        for label, cmd, extra in plan:
            restart_bodies()
            run_env = {**env, **extra}
            url, database = fresh(copy=label != "bare INSERT")
            run_env["BARE_DATABASE_URL" if label == "bare INSERT" else "SIGNAL_PIPELINE_DATABASE_URL"] = url
            port = free_port()
            proc = start([str(c) for c in cmd] + ["--port", str(port)], run_env, port)
            try:
                u = f"http://127.0.0.1:{port}"
                host = f"127.0.0.1:{port}"
                asyncio.run(load(u, requests_for(300, 1, headers, host), args.clients, 2, 1))  # warm-up
                singles = requests_for(int(args.seconds * 1500), 1, headers, host)
                rounds.setdefault(f"{backend:10} {label:16} 1/request ", []).append(
                    measured(proc.pid, admin, database, u, singles, args.clients, args.seconds, 1)
                )
                batches = requests_for(int(args.seconds * 12), args.batch, headers, host)
                rounds.setdefault(f"{backend:10} {label:16} batch of {args.batch}", []).append(
                    measured(proc.pid, admin, database, u, batches, args.batch_clients, args.seconds, args.batch)
                )
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=20)
    finally:
        if admin is not None:
            with admin.connect() as conn:
                for name in made:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(tmp, ignore_errors=True)
    return [(label, median_round(runs)) for label, runs in rounds.items()]


def median_round(runs: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median throughput (its latencies with it)."""
    return sorted(runs, key=lambda r: r["signals_per_s"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers on PostgreSQL")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each service variant, in turn")
    parser.add_argument("--redis", default=None, help="also measure the limiter in this Redis (PostgreSQL runs)")
    args = parser.parse_args()
    print(f"{args.clients} concurrent clients, {args.seconds:.0f} s per run, {args.rounds} round(s)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    for backend in args.backends.split(","):
        rows = run_backend(backend, args)
        by_label = dict(rows)
        for label, r in rows:
            line = (
                f"{label}  {r['signals_per_s']:8.0f} signals/s  p50 {r['p50_ms']:7.1f} ms  "
                f"p99 {r['p99_ms']:7.1f} ms  errors {int(r['errors'])}  "
                f"cpu/signal api {r['api_cpu_ms']:6.3f} ms db {r['db_cpu_ms']:6.3f} ms"
            )
            mode = label[28:]
            if "bare INSERT" not in label:
                bare = by_label[f"{backend:10} {'bare INSERT':16} {mode}"]
                line += f"  ratio to bare {r['signals_per_s'] / bare['signals_per_s']:.2f}"
            single = by_label.get(f"{backend:10} {'1 process':16} {mode}")
            if "no rate limit" in label and single is not None:
                line += f"  vs 1 process {r['signals_per_s'] / single['signals_per_s']:.2f}"
            if "limit in" in label:
                off = by_label[f"{backend:10} {'no rate limit':16} {mode}"]
                line += f"  vs no limit {r['signals_per_s'] / off['signals_per_s']:.3f}"
            print(line, flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
