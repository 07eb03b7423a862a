"""Attribution and clustering measured end to end: the labelled signal set posted through the real API.

    .venv/bin/python bench/signals_dev.py [--data ../shared/data/signals-dev] [--database-url URL] [--max-age-days 365]

Imports accounts.jsonl through POST /v1/accounts/import, posts signals.jsonl in observed_at order through
POST /v1/signals, writes one prediction per signal and prints score.py's figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from app.core.auth import create_key  # noqa: E402
from app.core.db import transaction  # noqa: E402
from app.core.migrate import upgrade  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.main import create_app  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "signals-dev"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--max-age-days", type=int, default=365)
    parser.add_argument("--write", type=Path, default=None, help="keep the predictions file here")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sp-signals-dev-"))
    url = args.database_url or f"sqlite:///{tmp}/dev.db"
    upgrade(url)
    app = create_app(Settings(database_url=url, match_max_age_days=args.max_age_days, log_level="warning"))
    with transaction(app.state.engine) as session:
        _key, raw = create_key(session, "bench", ["admin"])
    headers = {"Authorization": f"Bearer {raw}"}
    accounts = [json.loads(line) for line in (args.data / "accounts.jsonl").read_text().splitlines() if line.strip()]
    signals = [json.loads(line) for line in (args.data / "signals.jsonl").read_text().splitlines() if line.strip()]
    rows = [
        {
            "crm_id": a["account_id"],
            "name": a["name"],
            "legal_name": a.get("legal_name"),
            "aliases": a.get("aliases", []),
            "domains": a.get("domains", []),
            "country": a.get("country"),
        }
        for a in accounts
    ]
    predictions = []
    with TestClient(app) as client:
        r = client.post("/v1/accounts/import", json={"accounts": rows}, headers=headers)
        assert r.status_code == 200 and r.json()["rejected"] == 0, r.text
        for s in sorted(signals, key=lambda s: s["observed_at"]):
            body = {
                "contributor": {"email": s["contributor_email"], "function": s["contributor_function"]},
                "customer": {k: v for k, v in s["customer_hint"].items() if v},
                "kind": s["kind"],
                "title": s["title"],
                "body": s["body"],
                "observed_at": s["observed_at"],
                "source": {"system": "signals-dev", "reference": s["signal_id"]},
            }
            r = client.post("/v1/signals", json=body, headers=headers)
            assert r.status_code in (200, 201), r.text
            got = r.json()
            predictions.append(
                {
                    "signal_id": s["signal_id"],
                    "account_id": got["account"]["crm_id"] if got["account"] else None,
                    "opportunity_key": got["opportunity"]["id"] if got["opportunity"] else f"unplaced-{got['id']}",
                }
            )
    out = args.write or tmp / "predictions.jsonl"
    out.write_text("".join(json.dumps(p) + "\n" for p in predictions))
    print(
        f"posted {len(predictions)} signals through the API ({'PostgreSQL' if 'postgres' in url else 'SQLite'}), "
        f"horizon {args.max_age_days} days"
    )
    subprocess.run(
        [sys.executable, str(args.data / "score.py"), str(out), str(args.data / "signals.jsonl")], check=True
    )


if __name__ == "__main__":
    main()
