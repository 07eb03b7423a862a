"""The newcomer's first run: `serve` with the embedded sandbox, over real HTTP, shows a deal appearing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import cli, serve

pytestmark = pytest.mark.e2e


def test_signal_becomes_a_deal_in_the_mounted_hubspot_sandbox(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SIGNAL_PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
        "SIGNAL_PIPELINE_SANDBOX": "true",
    }
    for name in list(env):
        if name.startswith("SIGNAL_PIPELINE_") and name not in (
            "SIGNAL_PIPELINE_DATABASE_URL",
            "SIGNAL_PIPELINE_SANDBOX",
        ):
            del env[name]
    with serve(env, tmp_path) as url:
        key = cli(env, "dev", "key", "--file", str(tmp_path / "key"))
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=auth, timeout=10) as http:
            deadline = time.monotonic() + 90  # catches a loop that never completes; no speed target
            accounts: list[dict[str, object]] = []
            while not accounts:  # the in-process worker pulls the sandbox's demo companies
                assert time.monotonic() < deadline, "demo companies never arrived"
                time.sleep(0.2)
                try:
                    accounts = http.get("/v1/accounts").json()["items"]
                except httpx.HTTPError:
                    continue
            company = str(accounts[0]["name"])
            r = http.post(
                "/v1/signals",
                json={
                    "contributor": {"email": "anna.berg@ourco.se", "function": "support"},
                    "customer": {"name": company},
                    "kind": "inefficiency",
                    "title": "Supplier invoices keyed in by hand",
                    "body": "Their finance team types every supplier invoice into the ERP.",
                    "source": {"system": "jira", "reference": "SUP-1"},
                },
            )
            assert r.status_code == 201, r.text
            opp_id = r.json()["opportunity"]["id"]
            while True:
                opp = http.get(f"/v1/opportunities/{opp_id}").json()
                if opp["crm_id"]:
                    break
                assert time.monotonic() < deadline, "the opportunity never reached the sandbox"
                time.sleep(0.2)
            deals = httpx.get(f"{url}/sandbox/hubspot/_sandbox/deals").json()["results"]
            mine = [d for d in deals if d["crm_id"] == opp["crm_id"]]
            assert len(mine) == 1 and mine[0]["opportunity_id"] == opp_id
            assert httpx.get(opp["crm_url"]).status_code == 200
            status = http.get("/v1/sync/status").json()["crms"][0]
            assert status["crm"] == "hubspot" and status["dead"] == 0
