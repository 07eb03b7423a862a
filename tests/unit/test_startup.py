"""What a process loads to start: vendor SDKs, OIDC and migration libraries wait until they are used.

A fresh interpreter runs the `serve` path (the CLI module, settings, the app) and reports which of them it
imported; each costs start-up time in every process while the first signal waits (issue 13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Imported only by the code that uses them: a configured CRM or capture source, an OIDC sign-in, `migrate` or
# /readyz.
LAZY = ("hubspot", "simple_salesforce", "zeep", "slack_sdk", "jira", "authlib", "joserfc", "alembic")

SCRIPT = """
import gc, json, sys
import app.cli
collecting_after_cli = gc.isenabled()
young_threshold = gc.get_threshold()[0]
app.cli._settings()
from app.main import create_app
create_app()
print(json.dumps({"loaded": sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:])),
                  "collecting_after_cli": collecting_after_cli, "young_threshold": young_threshold}))
"""


def test_serving_imports_no_vendor_sdk_oidc_or_alembic_and_leaves_the_collector_on() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAL_PIPELINE_")}
    env["SIGNAL_PIPELINE_DATABASE_URL"] = "sqlite:///:memory:"
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, *LAZY], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got["loaded"] == []
    # The CLI pauses the cyclic collector while its modules load; importing it must not leave it off.
    assert got["collecting_after_cli"] is True
    # ... and leaves the youngest generation's threshold raised (app/core/startup.py says why).
    from app.core.startup import YOUNG_THRESHOLD

    assert got["young_threshold"] == YOUNG_THRESHOLD > 700
