"""Report latency on a seeded database: p50/p95 per report over one year.

    signal-pipeline dev seed --signals 1000000          # or any seeded PostgreSQL database
    SIGNAL_PIPELINE_DATABASE_URL=postgresql://... python bench/reports.py [--runs 20]

Recognition statements are asked for the contributor with the most signals and their team.
Runs each report through the HTTP app in-process (TestClient: routing, auth, SQL, JSON), after one warm-up call.
Target: each report <= 300 ms p50 on PostgreSQL with 1,000,000 signals.

Report requests only read: the report tables are brought up to date by the background refresh
(app/reports/facts.py). The bench runs that refresh once before measuring and prints its time; after a seed or an
upgrade it is the first build of the summaries (a minute or two on 1M signals). Then it times the refresh that
follows one new signal (what the background loop pays per change), against a refresh with nothing to do.
The load average is printed because the figures move with it; so is the CPU each call costs (this process plus the
database backends, from /proc): a figure the load does not inflate, close to what an idle machine would answer in.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.core.auth import create_key
from app.core.db import transaction
from app.core.migrate import upgrade
from app.core.settings import Settings
from app.core.timeutil import utcnow
from app.main import create_app
from app.reports import facts

TARGET_MS = 300.0
CASES = [
    ("contributions", {"group_by": "contributor"}),
    ("contributions", {"group_by": "function"}),
    ("contributions", {"group_by": "month"}),
    ("credit", {"credit": "originator", "group_by": "team"}),
    ("credit", {"credit": "equal", "group_by": "contributor"}),
    ("credit", {"credit": "time_weighted", "group_by": "account"}),
    ("participation", {"by": "function", "interval": "week"}),
    ("participation", {"by": "team", "interval": "month"}),
    ("concentration", {"credit": "time_weighted"}),
    ("ageing", {"sla_days": "14"}),
    ("adoption", {}),
    # The busiest contributor and their team, filled in at start (see ``_people``).
    ("recognition", {"contributor": "{busiest}"}),
    ("recognition", {"contributor": "{busiest}", "format": "csv"}),
    ("recognition/team", {"team": "{team}"}),
]
# Rendering a PDF is measured but not held to the JSON target: it lays out every line of the statement.
UNTARGETED = [("recognition", {"contributor": "{busiest}", "format": "pdf"})]


def _people(engine: object) -> dict[str, str]:
    """The contributor with the most signals, and their team (the heaviest statement a person can ask for)."""
    import sqlalchemy as sa

    with transaction(engine) as session:  # type: ignore[arg-type]
        email, team = session.execute(
            sa.text(
                "SELECT email, COALESCE(team, '') FROM contributors WHERE email IS NOT NULL "
                "ORDER BY signal_count DESC LIMIT 1"
            )
        ).one()
    return {"busiest": str(email), "team": str(team)}


def _size(r: object) -> int:
    """Rows of a report, lines of a statement, or bytes of a PDF or CSV."""
    ctype = r.headers["content-type"]  # type: ignore[attr-defined]
    if ctype.startswith("application/json"):
        body = r.json()  # type: ignore[attr-defined]
        return len(body.get("rows", body.get("opportunities", [])))
    if ctype.startswith("text/csv"):
        return len(r.text.splitlines()) - 1  # type: ignore[attr-defined]
    return len(r.content)  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default=os.environ.get("SIGNAL_PIPELINE_DATABASE_URL"))
    parser.add_argument("--only", default="", help="comma-separated report names to measure (default: all)")
    parser.add_argument("--no-refresh-costs", action="store_true", help="skip the refresh cost lines")
    parser.add_argument(
        "--no-upgrade",
        action="store_true",
        help="leave the schema as it is (to run an older checkout's code, via PYTHONPATH, on the same database)",
    )
    args = parser.parse_args()
    if not args.database_url:
        parser.error("give --database-url or set SIGNAL_PIPELINE_DATABASE_URL")
    if not args.no_upgrade:
        upgrade(args.database_url)
    app = create_app(Settings(database_url=args.database_url, log_format="text", log_level="warning"))
    t0 = time.perf_counter()
    rebuilt = facts.refresh(app.state.engine, wait=True)
    what = "a full build" if rebuilt < 0 else f"{rebuilt} opportunities"
    print(f"report tables brought up to date before measuring: {what} in {time.perf_counter() - t0:.1f} s")
    with transaction(app.state.engine) as session:
        _key, raw = create_key(session, "bench", ["reports:read"])
    headers = {"Authorization": f"Bearer {raw}"}
    to = utcnow().date()
    span = {"from": (to - timedelta(days=364)).isoformat(), "to": to.isoformat()}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"database: {app.state.engine.dialect.name}; range {span['from']} .. {span['to']}; {args.runs} runs each; "
        f"load average {load} on {os.cpu_count()} CPUs"
    )
    worst = 0.0
    people = _people(app.state.engine)
    with TestClient(app) as client:
        # The baseline: the cheapest authenticated request of the same router (key check, one small query, JSON),
        # so that the ratios say what the reports cost beyond the request itself under this run's load.
        client.get("/v1/reports/staff-counts", headers=headers)  # opens the pool's connection
        _settle(app)
        BACKENDS[:] = _backends(app.state.engine, args.database_url)
        base, (_p95, _n, base_cpu) = _p50(client, "/v1/reports/staff-counts", {}, headers, args.runs)
        print(f"baseline GET /v1/reports/staff-counts p50 {base:.1f} ms, CPU {base_cpu:.1f} ms")
        print(
            f"{'report':<14} {'params':<40} {'rows':>6} {'p50 ms':>8} {'p95 ms':>8} {'ratio':>6} {'CPU ms':>7}  target"
        )
        only = {name for name in args.only.split(",") if name}
        for report, raw_params in [*CASES, *UNTARGETED]:
            if only and report not in only:
                continue
            params = {k: v.format(**people) for k, v in raw_params.items()}
            p50, (p95, size, cpu) = _p50(client, f"/v1/reports/{report}", {**span, **params}, headers, args.runs)
            targeted = (report, raw_params) not in UNTARGETED
            if targeted:
                worst = max(worst, p50)
            label = ",".join(f"{k}={v}" for k, v in params.items())[:40]
            ok = ("ok" if p50 <= TARGET_MS else "OVER") if targeted else "(not targeted; size in bytes)"
            print(f"{report:<14} {label:<40} {size:>6} {p50:>8.1f} {p95:>8.1f} {p50 / base:>6.1f} {cpu:>7.1f}  {ok}")
    if not args.no_refresh_costs:
        _refresh_costs(app.state.engine, args.runs)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"worst p50: {worst:.1f} ms (target {TARGET_MS:.0f} ms); load average {load}")
    return 0 if worst <= TARGET_MS else 1


def _settle(app: object) -> None:
    """Wait for the start-up work of the process (the account directory's load and its snapshot) to end: it runs in
    threads of this process, whose CPU the per-call figures would otherwise count against the first reports. The
    directory's own thread goes on polling for changes once loaded (``ready``): waiting for it to end took the whole
    300 s deadline in every run."""
    import threading

    deadline = time.monotonic() + 300
    while not app.state.directory.ready and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)
    for thread in threading.enumerate():
        if thread.name == "account-index-snapshot":
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


def _p50(
    client: TestClient, path: str, query: dict[str, str], headers: dict[str, str], runs: int
) -> tuple[float, tuple[float, int, float]]:
    """p50 ms of ``runs`` calls after a warm-up, with the p95, the size of the answer and the CPU ms per call."""
    first = client.get(path, params=query, headers=headers)
    first.raise_for_status()
    times = []
    cpu0 = _cpu_ms()
    for _ in range(runs):
        t0 = time.perf_counter()
        r = client.get(path, params=query, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    cpu = (_cpu_ms() - cpu0) / runs
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), (p95, _size(first), cpu)


BACKENDS: list[int] = []


def _cpu_ms() -> float:
    """CPU time of this process plus the database backends serving it (PostgreSQL on this machine; /proc): what a
    request costs whatever else the machine runs, which wall-clock figures do not show under load. Parallel query
    workers are not counted (they come and go)."""
    total = time.process_time() * 1000
    tick = os.sysconf("SC_CLK_TCK")
    for pid in BACKENDS:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) * 1000 / tick  # utime, stime
    return total


def _backends(engine: Engine, url: str) -> list[int]:
    """The PostgreSQL backends of this database (the bench is its only client while it runs)."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        mine = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        pids = conn.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND backend_type = 'client backend'"
            )
        ).scalars()
        return [int(p) for p in pids if p != mine] + [int(mine)]


def _refresh_costs(engine: Engine, runs: int) -> None:
    """What the background refresh pays, wall ms and CPU ms (this process and its database backends): with nothing
    logged; with N opportunities and their signals logged as changed, rebuilt as they are (the data does not change:
    what a new signal on an existing opportunity, a note or a sync mostly amount to); and with N opportunities' amounts
    changed, which changes what the summaries sum (up by 1.00, timed, and back, also timed: the database ends as it
    began)."""
    import sqlalchemy as sa

    def timed() -> tuple[float, float]:
        t0, cpu0 = time.perf_counter(), _cpu_ms()
        facts.refresh(engine, wait=True)
        return (time.perf_counter() - t0) * 1000, _cpu_ms() - cpu0

    facts.refresh(engine, wait=True)  # (re)opens the pool's connection after the app's shutdown disposed of it
    BACKENDS[:] = _backends(engine, "")
    idle = [timed() for _ in range(runs)]
    base = statistics.median(ms for ms, _cpu in idle)
    print(
        f"refresh with nothing changed: p50 {base:.1f} ms, CPU {statistics.median(c for _ms, c in idle):.1f} ms "
        "(baseline of the lines below)"
    )
    for n in (10, 100, 1000):
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "WITH o AS (SELECT id FROM opportunities WHERE merged_into_id IS NULL ORDER BY random() LIMIT :n), "
                    "l AS (INSERT INTO report_stale_opportunities SELECT id FROM o) "
                    "INSERT INTO report_stale_signals SELECT s.id FROM signals s JOIN o ON s.opportunity_id = o.id"
                ),
                {"n": n},
            )
        ms, cpu = timed()
        print(f"refresh after {n:>4} rebuilt opportunities: {ms:8.1f} ms  ratio {ms / base:6.1f}  CPU {cpu:7.1f} ms")
    for n in (10, 100):
        with engine.connect() as conn:
            ids = [
                str(i)
                for i in conn.execute(
                    sa.text(
                        "SELECT id FROM opportunities WHERE merged_into_id IS NULL AND amount IS NOT NULL "
                        "ORDER BY random() LIMIT :n"
                    ),
                    {"n": n},
                ).scalars()
            ]
        spent = []
        for step in ("1.00", "-1.00"):
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "UPDATE opportunities SET amount = amount + CAST(:step AS numeric) "
                        "WHERE id = ANY(CAST(:ids AS uuid[]))"
                    ),
                    {"ids": ids, "step": step},
                )
            spent.append(timed())
        ms = statistics.mean(x for x, _c in spent)
        cpu = statistics.mean(c for _x, c in spent)
        print(f"refresh after {n:>4} changed amounts:      {ms:8.1f} ms  ratio {ms / base:6.1f}  CPU {cpu:7.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
