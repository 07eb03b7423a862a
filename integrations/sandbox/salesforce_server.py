"""Run the Salesforce sandbox over real TLS on a free loopback port, and drive it over HTTP.

simple-salesforce always builds ``https://`` URLs (crm-apis.md b9), so the sandbox is served over TLS with a
throwaway CA from ``trustme``: the client keeps full certificate verification, pointed at the CA file, and
nothing in the request path is rewritten.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests
import trustme
import uvicorn

from integrations.sandbox.control import Fault, SandboxOpportunity
from integrations.sandbox.salesforce import create_salesforce_sandbox
from integrations.sandbox.salesforce_state import SalesforceSandboxState


@dataclass(frozen=True)
class RunningSalesforceSandbox:
    """A sandbox listening on ``base_url`` (https) whose certificate chains to ``ca_file``."""

    base_url: str
    ca_file: str
    state: SalesforceSandboxState


@contextmanager
def run_salesforce_sandbox(
    state: SalesforceSandboxState | None = None, host: str = "127.0.0.1", **state_options: Any
) -> Iterator[RunningSalesforceSandbox]:
    """Serve a sandbox over TLS in a background thread for the duration of the ``with`` block."""
    app, st = create_salesforce_sandbox(state, **state_options)
    ca = trustme.CA()
    cert = ca.issue_cert(host, "localhost")
    with tempfile.TemporaryDirectory(prefix="sf-sandbox-") as tmp:
        ca_file = Path(tmp, "ca.pem")
        key_file = Path(tmp, "server.pem")
        ca.cert_pem.write_to_path(str(ca_file))
        cert.private_key_and_cert_chain_pem.write_to_path(str(key_file))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            ssl_certfile=str(key_file),
            ssl_keyfile=str(key_file),
            lifespan="off",
            timeout_graceful_shutdown=0,  # idle keep-alive connections would hold shutdown
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("Salesforce sandbox did not start")
            time.sleep(0.01)
        try:
            yield RunningSalesforceSandbox(f"https://{host}:{port}", str(ca_file), st)
        finally:
            # Clients keep pooled keep-alive connections open; uvicorn reports cutting them as an error.
            logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
            server.should_exit = True
            thread.join(timeout=5)
            sock.close()


class HttpSalesforceControl:
    """``SandboxControl`` over the sandbox's ``/_sandbox`` endpoints, for a sandbox in another process."""

    def __init__(self, base_url: str, verify: str | bool = True, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.verify = verify
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        # verify per request: REQUESTS_CA_BUNDLE would otherwise override a Session-level CA file.
        response = self.http.request(
            method, f"{self.base_url}/_sandbox{path}", timeout=self.timeout, verify=self.verify, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._call("POST", "/reset")

    def add_fault(self, fault: Fault) -> None:
        self._call("POST", "/faults", json={**asdict(fault), "kind": fault.kind.value})

    def seed_account(self, name: str, domain: str | None = None, owner_email: str | None = None) -> str:
        return str(
            self._call("POST", "/accounts", json={"name": name, "domain": domain, "owner_email": owner_email})["id"]
        )

    def seed_user(self, email: str, name: str | None = None) -> str:
        return str(self._call("POST", "/users", json={"email": email, "name": name})["id"])

    def opportunities(self) -> list[SandboxOpportunity]:
        return [
            SandboxOpportunity(
                crm_id=o["crm_id"],
                opportunity_id=o["opportunity_id"],
                account_crm_id=o["account_crm_id"],
                owner_crm_id=o["owner_crm_id"],
                properties=o["properties"],
                collaborator_ids=tuple(o["collaborator_ids"]),
            )
            for o in self._call("GET", "/opportunities")
        ]

    def set_stage(self, crm_id: str, stage: str, amount: float | None = None) -> None:
        self._call("POST", f"/opportunities/{crm_id}/stage", json={"stage": stage, "amount": amount})

    def call_count(self, path_prefix: str | None = None) -> int:
        params = {"path_prefix": path_prefix} if path_prefix else None
        return int(self._call("GET", "/calls", params=params)["count"])
