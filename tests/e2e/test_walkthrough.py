"""The README's walk-through, step by step, as a newcomer runs it after `make run`: a signal becomes a deal in the
embedded HubSpot sandbox, a seller wins it (`signal-pipeline sandbox set-stage`), the sandbox's signed webhook
brings the outcome back, and the credit report shows everyone who contributed.

Waits poll with a generous deadline: the server's worker and the sandbox's webhook run on their own schedule.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.e2e.server import cli, serve

pytestmark = pytest.mark.e2e
T = TypeVar("T")
PATIENCE = 90.0  # seconds; only a broken loop comes near it


def _eventually(what: str, probe: Callable[[], T | None]) -> T:
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            found = probe()
        except httpx.HTTPError:
            found = None
        if found is not None:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


# The README's two signals, as written there.
FIRST = {
    "contributor": {"email": "per.lind@ourco.se", "name": "Per Lind", "function": "delivery"},
    "customer": {"name": "Tailspin Health"},
    "kind": "new_use_case",
    "title": "They want our scheduling module for their clinics",
    "body": "Their operations lead asked whether the scheduling we built for radiology could cover all 14 clinics.",
    "value": {"amount": 250000, "currency": "SEK"},
    "source": {"system": "teams-bot", "reference": "msg-981"},
}
SECOND = {
    "contributor": {"email": "sara.ek@ourco.se", "name": "Sara Ek", "function": "support"},
    "customer": {"name": "Tailspin Health"},
    "kind": "new_use_case",
    "title": "Clinic staff ask for the radiology scheduler",
    "body": "Two clinic managers asked support whether they can get the radiology scheduling too.",
    "source": {"system": "zendesk", "reference": "4711"},
}


def test_signal_to_deal_to_won_to_credit_report_rows(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAL_PIPELINE_")}
    env |= {"SIGNAL_PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path}/walk.db", "SIGNAL_PIPELINE_SANDBOX": "true"}
    with serve(env, tmp_path, timeout=PATIENCE) as url:
        key = cli(env, "dev", "key", "--file", str(tmp_path / "dev-api-key"))
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
            # 0. the in-process worker pulls the sandbox's demo companies into the account directory
            _eventually("demo companies never arrived", lambda: http.get("/v1/accounts").json()["items"] or None)

            # 1. a signal about a demo company; a colleague's signal names the same opportunity
            first = http.post("/v1/signals", json=FIRST)
            assert first.status_code == 201, first.text
            opp_id = first.json()["opportunity"]["id"]
            second = http.post("/v1/signals", json={**SECOND, "opportunity_ref": opp_id})
            assert second.status_code == 201 and second.json()["opportunity"]["id"] == opp_id, second.text

            # 2. the worker makes it a deal in the sandbox
            deal = _eventually("no deal", lambda: http.get(f"/v1/opportunities/{opp_id}").json()["crm_id"])
            sandbox = f"{url}/sandbox/hubspot"
            [mine] = [d for d in httpx.get(f"{sandbox}/_sandbox/deals").json()["results"] if d["crm_id"] == deal]
            assert mine["opportunity_id"] == opp_id

            # 3. a seller wins it in the sandbox, as the README shows; the signed webhook brings it back
            said = cli(env, "sandbox", "set-stage", deal, "closedwon", "--amount", "250000", "--url", sandbox)
            assert "closedwon" in said

            def won() -> dict[str, Any] | None:
                outcome: dict[str, Any] = http.get(f"/v1/opportunities/{opp_id}").json()["outcome"]
                return outcome if outcome["status"] == "won" else None

            outcome = _eventually("the outcome never came back", won)
            assert outcome["amount"] == "250000.00" and outcome["currency"] == "SEK"
            assert outcome["stage"] == "closedwon" and outcome["stage_changed_at"]

            # 4. the credit report has a row for everyone who contributed, in JSON and CSV, once the background
            #    refresh has brought the report tables up to date (every 2 s)
            def credited() -> dict[str, Any] | None:
                report: dict[str, Any] = http.get("/v1/reports/credit", params={"group_by": "contributor"}).json()
                rows = {r["label"]: r for r in report["rows"]}
                return report if rows.get("Per Lind", {}).get("won_value") == "250000.00" else None

            report = _eventually("the credit report never showed the won deal", credited)
            rows = {r["label"]: r for r in report["rows"]}
            assert report["currency"] == "SEK" and {"Per Lind", "Sara Ek"} <= set(rows)
            assert rows["Per Lind"]["originated"] == 1 and rows["Per Lind"]["won_value"] == "250000.00"
            text = http.get("/v1/reports/credit", params={"group_by": "contributor", "format": "csv"}).text
            by_label = {r["label"]: r for r in csv.DictReader(io.StringIO(text))}
            assert by_label["Per Lind"]["won_value"] == "250000.00" and "Sara Ek" in by_label
            [status] = http.get("/v1/sync/status").json()["crms"]
            assert status["dead"] == 0
