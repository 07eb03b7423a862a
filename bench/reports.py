"""Report latency on a seeded database: p50/p95 per report over one year.

    signal-pipeline dev seed --signals 1000000          # or any seeded PostgreSQL database
    SIGNAL_PIPELINE_DATABASE_URL=postgresql://... python bench/reports.py [--runs 20]

Runs each report through the HTTP app in-process (TestClient: routing, auth, the fact refresh, SQL, JSON), after
one warm-up call. Target: each report <= 300 ms p50 on PostgreSQL with 1,000,000 signals.

The first report after a seed or an upgrade builds the summaries (see app/reports/rollups.py), which takes a minute or
two on 1M signals; the warm-up call pays it. The load average is printed because the figures move with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta

from fastapi.testclient import TestClient

from app.core.auth import create_key
from app.core.db import transaction
from app.core.settings import Settings
from app.core.timeutil import utcnow
from app.main import create_app

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
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default=os.environ.get("SIGNAL_PIPELINE_DATABASE_URL"))
    args = parser.parse_args()
    if not args.database_url:
        parser.error("give --database-url or set SIGNAL_PIPELINE_DATABASE_URL")
    app = create_app(Settings(database_url=args.database_url, log_format="text", log_level="warning"))
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
    print(f"{'report':<14} {'params':<40} {'rows':>6} {'p50 ms':>8} {'p95 ms':>8}  target")
    worst = 0.0
    with TestClient(app) as client:
        for report, params in CASES:
            query = {**span, **params}
            first = client.get(f"/v1/reports/{report}", params=query, headers=headers)
            first.raise_for_status()
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                r = client.get(f"/v1/reports/{report}", params=query, headers=headers)
                times.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
            times.sort()
            p50 = statistics.median(times)
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            worst = max(worst, p50)
            label = ",".join(f"{k}={v}" for k, v in params.items())
            ok = "ok" if p50 <= TARGET_MS else "OVER"
            print(f"{report:<14} {label:<40} {len(first.json()['rows']):>6} {p50:>8.1f} {p95:>8.1f}  {ok}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"worst p50: {worst:.1f} ms (target {TARGET_MS:.0f} ms); load average {load}")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
