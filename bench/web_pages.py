"""Server time of the web pages on a seeded database, against the API calls behind them (same run, same data).

    signal-pipeline dev seed --signals 1000000          # or any seeded PostgreSQL database
    SIGNAL_PIPELINE_DATABASE_URL=postgresql://... python bench/web_pages.py [--runs 10]

Each page goes through the whole app in-process (TestClient: session lookup, services, template). The baseline for
/app/insights is the /v1/reports calls that compute the same rows; for /app/me the /v1/me/signals feed. Target:
each page <= 300 ms p50 on PostgreSQL with 1,000,000 signals. Migrates the database first (the web tables).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.auth import create_key
from app.core.db import transaction
from app.core.migrate import upgrade
from app.core.settings import Settings
from app.main import create_app
from app.web.sessions import create_link_token

TARGET_MS = 300.0
REPORTS = {
    "participation": "participation?by=function&interval=month",
    "adoption": "adoption",
    "credit-by-function": "credit?group_by=function",
    "credit-by-person": "credit?group_by=contributor",
    "concentration": "concentration?limit=200",
    "ageing": "ageing",
}


def _ms(client: TestClient, path: str, runs: int, headers: dict[str, str] | None = None) -> float:
    assert client.get(path, headers=headers).status_code == 200, path  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    url = os.environ["SIGNAL_PIPELINE_DATABASE_URL"]
    upgrade(url)
    app = create_app(Settings(database_url=url, log_format="text"))
    engine = app.state.engine
    with engine.connect() as conn:
        signals = conn.execute(sa.text("SELECT count(*) FROM signals")).scalar_one()
        busiest, opp = conn.execute(
            sa.text(
                "SELECT c.email, (SELECT s.opportunity_id FROM signals s WHERE s.contributor_id = c.id"
                " AND s.opportunity_id IS NOT NULL LIMIT 1) FROM contributors c WHERE c.email IS NOT NULL"
                " ORDER BY c.signal_count DESC LIMIT 1"
            )
        ).one()
    with transaction(engine) as session:
        _key, raw = create_key(session, "bench-web", ["admin"])
        bound, bound_raw = create_key(session, "bench-web-me", ["signals:read"])
    with transaction(engine) as session:
        from app.contributors.service import resolve_contributor

        bound = session.merge(bound)
        bound.contributor_id = resolve_contributor(session, busiest).id
    api = {"Authorization": f"Bearer {raw}"}
    me_api = {"Authorization": f"Bearer {bound_raw}"}
    print(f"signals: {signals:,}; load average: {os.getloadavg()[0]:.2f}; runs per case: {args.runs}")
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for role in ("admin", "contributor"):
            with transaction(engine) as session:
                token = create_link_token(session, busiest if role == "contributor" else "bench@example.com", role)
            client.cookies.clear()
            assert client.get(f"/app/login/link?token={token}", follow_redirects=False).status_code == 303
            if role == "admin":
                # Each insight section is its own request; its baseline is the /v1/reports call with the same rows.
                for name, report in REPORTS.items():
                    base = _ms(client, f"/v1/reports/{report}", args.runs, api)
                    ms = _ms(client, f"/app/insights/{name}", args.runs, {"HX-Request": "true"})
                    verdict = "ok" if ms <= TARGET_MS else "OVER TARGET"
                    print(
                        f"  {role:11s} {'/app/insights/' + name:60s} p50 {ms:8.1f} ms"
                        f"  ratio to /v1/reports/{report.split('?')[0]} ({base:.1f} ms) {ms / base:5.2f}  {verdict}"
                    )
                pages = ["/app/insights", "/app/review", f"/app/opportunities/{opp}", "/app/signals/new"]
                baseline = sum(_ms(client, f"/v1/reports/{r}", args.runs, api) for r in REPORTS.values())
                print(f"  baseline: the /v1/reports calls behind /app/insights  {baseline:8.1f} ms")
            else:
                pages = ["/app", "/app/me"]
                baseline = _ms(client, "/v1/me/signals?limit=25", args.runs, me_api)
                print(f"  baseline: /v1/me/signals?limit=25 (the feed behind /app/me)  {baseline:8.1f} ms")
            for page in pages:
                ms = _ms(client, page, args.runs)
                verdict = "ok" if ms <= TARGET_MS else "OVER TARGET"
                print(f"  {role:11s} {page:60s} p50 {ms:8.1f} ms  ratio to baseline {ms / baseline:5.2f}  {verdict}")


if __name__ == "__main__":
    main()
