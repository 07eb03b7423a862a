"""`make fuzz`: schemathesis over every operation of openapi/openapi.json against a real server on PostgreSQL.

A fresh database (created, migrated, dropped afterwards), an admin key, the real `signal-pipeline serve` on a free
loopback port, a few objects made through the API (accounts, signals and so opportunities, a review item, a routing
rule, a subscription with a delivery), and schemathesis's CLI with the response-conformance checks. Half of the
generated path and filter values are the ids of those objects (a schemathesis dictionary per parameter), so the
operations get past "404 not found" into their real work; the other half stays random. Every CRM and capture tool is
configured (with secrets the fuzzer does not know), so their verification code runs instead of a 404. No worker
runs in the server: nothing the fuzzer stores is ever sent anywhere.

    FUZZ_MAX_EXAMPLES   test cases per operation and phase (default 50)
    FUZZ_SEED           the random seed (default: a new one each run, printed so a failure can be replayed)
    FUZZ_DATABASE_URL   the PostgreSQL server to create the database on (default: TEST_DATABASE_URL's server)

Exits non-zero on any failed check; the report (JUnit XML, ndjson) goes to var/fuzz/.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_admin_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


def _server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAL_PIPELINE_")}
    nowhere = "http://127.0.0.1:9"  # the discard port: nothing listens, and nothing is sent without a valid signature
    env.update(
        {
            "SIGNAL_PIPELINE_DATABASE_URL": database_url,
            "SIGNAL_PIPELINE_LOG_LEVEL": "warning",
            # Every request still passes the rate limiter (its fields are on every answer), but thousands of cases
            # with one key must reach the handlers, not the 429 of an empty bucket.
            "SIGNAL_PIPELINE_RATE_LIMIT_PER_MINUTE": "1000000",
            "SIGNAL_PIPELINE_SECRET_KEYS": Fernet.generate_key().decode(),  # no key file written under ./var
            "SIGNAL_PIPELINE_CRM": "hubspot",
            "SIGNAL_PIPELINE_HUBSPOT_BASE_URL": nowhere,
            "SIGNAL_PIPELINE_HUBSPOT_ACCESS_TOKEN": "fuzz-token",
            "SIGNAL_PIPELINE_HUBSPOT_CLIENT_SECRET": "fuzz-client-secret",
            "SIGNAL_PIPELINE_SLACK_SIGNING_SECRET": "fuzz-signing-secret",
            "SIGNAL_PIPELINE_SLACK_BOT_TOKEN": "xoxb-fuzz",
            "SIGNAL_PIPELINE_SLACK_BASE_URL": nowhere + "/",
            "SIGNAL_PIPELINE_TEAMS_HMAC_SECRET": "ZnV6ei1obWFjLXNlY3JldA==",
            "SIGNAL_PIPELINE_JIRA_WEBHOOK_SECRET": "fuzz-jira-secret",
            "SIGNAL_PIPELINE_ZENDESK_WEBHOOK_SECRET": "fuzz-zendesk-secret",
        }
    )
    return env


def _seed(url: str, key: str) -> dict[str, list[str]]:
    """Make objects through the API, as a client would; return the values to offer per parameter name."""
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def call(method: str, path: str, **kw: Any) -> Any:
        r = http.request(method, path, **kw)
        if r.status_code >= 300:
            sys.exit(f"seeding failed: {method} {path} answered {r.status_code}: {r.text}")
        return r.json() if r.content else None

    accounts = [
        {"crm_id": "fz-1", "name": "Fuzzwerk Industries AB", "domains": ["fuzzwerk.example"], "segment": "enterprise"},
        {"crm_id": "fz-2", "name": "Northwind Traders", "domains": ["northwind.example"]},
    ]
    call("POST", "/v1/accounts/import", json={"accounts": accounts})
    people = ["anna.berg@ourco.example", "per.lind@ourco.example"]
    signals = []
    for i, (who, customer) in enumerate(
        [
            (people[0], {"name": "Fuzzwerk Industries AB", "email": "it@fuzzwerk.example"}),
            (people[1], {"crm_account_id": "fz-1"}),
            (people[1], {"crm_account_id": "fz-2"}),
            (people[0], {"name": "Nobody Knows GmbH"}),  # waits in the review queue
        ]
    ):
        body = {
            "contributor": {"email": who, "function": "support", "team": "Nordics"},
            "customer": customer,
            "kind": "expansion",
            "title": f"They want more seats {i}",
            "body": "Their operations lead asked for twice the seats next quarter.",
            "value": {"amount": 1000 * (i + 1), "currency": "SEK"},
            "source": {"system": "fuzz", "reference": f"seed-{i}"},
        }
        signals.append(call("POST", "/v1/signals", json=body))
    opportunities = sorted({s["opportunity"]["id"] for s in signals if s.get("opportunity")})
    rule = call(
        "POST",
        "/v1/routing/rules",
        json={"name": "enterprise", "segments": ["enterprise"], "sla_hours": 24, "queue": "key-accounts"},
    )
    # A public address literal: creation passes the outbound guard without DNS; no worker runs, nothing is sent.
    sub = call("POST", "/v1/subscriptions", json={"url": "https://93.184.215.14/hook"})
    call("POST", f"/v1/signals/{signals[-1]['id']}/account", json={"account": "fz-2"})  # emits signal.attributed
    deliveries = call("GET", f"/v1/subscriptions/{sub['id']}/deliveries")["items"]
    contributors = [c["id"] for c in call("GET", "/v1/contributors")["items"]]
    http.close()
    return {
        "signal_id": [s["id"] for s in signals],
        "opportunity_id": opportunities,
        "opportunity": opportunities,
        "ref": ["fz-1", "fz-2", *people, *contributors],
        "account": ["fz-1", "fz-2"],
        "contributor": [*people, *contributors],
        "team": ["Nordics"],
        "rule_id": [rule["id"]],
        "subscription_id": [sub["id"]],
        "delivery_id": [d["id"] for d in deliveries],
        "crm": ["hubspot"],
        "name": ["slack", "teams", "jira", "zendesk"],
        "route": ["commands", "interactions", "events"],
        "kind": ["expansion", "inefficiency", "renewal_risk"],
        "function": ["support", "delivery", "sales"],
        "currency": ["SEK", "EUR"],
        "domain": ["fuzzwerk.example", "https://www.northwind.example/about"],
        "url": ["https://93.184.215.14/hook", "https://[2606:4700:4700::1111]:8443/in"],
    }


def _config(values: dict[str, list[str]], path: Path) -> Path:
    """A schemathesis.toml offering ``values`` for half of the generated values of each parameter of that name."""
    lines = []
    for name, entries in values.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(entries)}", ""]
    lines.append("[parameters]")
    for name in values:
        for location in ("path", "query"):
            lines.append(f'"{location}.{name}" = {{ dictionary = "{name}", probability = 0.5 }}')
    for body_field, name in (
        ("kind", "kind"),
        ("contributor.function", "function"),
        ("account", "account"),
        ("customer.domain", "domain"),
        ("value.currency", "currency"),
        ("url", "url"),
    ):
        lines.append(f'"body.{body_field}" = {{ dictionary = "{name}", probability = 0.5 }}')
    path.write_text("\n".join(lines) + "\n")
    return path


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"the server did not become ready in {timeout:.0f} s:\n{log.read_text()}")


def main() -> int:
    base = os.environ.get("FUZZ_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG
    if not base.startswith("postgresql"):
        sys.exit("make fuzz needs PostgreSQL (FUZZ_DATABASE_URL or TEST_DATABASE_URL)")
    examples = int(os.environ.get("FUZZ_MAX_EXAMPLES", "50"))
    seed = int(os.environ.get("FUZZ_SEED") or random.randrange(2**31))
    out = ROOT / "var" / "fuzz"
    out.mkdir(parents=True, exist_ok=True)

    name = f"sp_fuzz_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(_pg_admin_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database_url = base.rsplit("/", 1)[0] + "/" + name
    env = _server_env(database_url)
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([BIN / "signal-pipeline", "migrate"], env=env, check=True, capture_output=True)
        key = subprocess.run(
            [BIN / "signal-pipeline", "keys", "create", "--name", "fuzz", "--scopes", "admin"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = out / "server.log"
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [BIN / "signal-pipeline", "serve", "--port", str(port), "--no-migrate"],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        _wait_ready(url, proc, log)
        config = _config(_seed(url, key), out / "schemathesis.toml")
        command = [
            str(BIN / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            str(ROOT / "openapi" / "openapi.json"),
            "--url",
            url,
            "--header",
            f"Authorization: Bearer {key}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(examples),
            "--seed",
            str(seed),
            "--workers",
            "2",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
            "--no-color",
            *(["--continue-on-failure"] if os.environ.get("FUZZ_CONTINUE") else []),
            "--report",
            "junit,ndjson",
            "--report-dir",
            str(out),
        ]
        print(f"fuzz: {examples} examples per operation and phase, seed {seed}, server {url}, database {name}")
        started = time.monotonic()
        # In var/fuzz/: schemathesis keeps its cache of failing cases (for `st replay`) in the working directory.
        result = subprocess.run(command, check=False, cwd=out)
        print(f"fuzz: schemathesis exited {result.returncode} after {time.monotonic() - started:.0f} s")
        return result.returncode
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
