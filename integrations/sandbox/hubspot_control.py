"""``SandboxControl`` over HTTP, for driving a HubSpot sandbox that runs in another process."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import httpx

from integrations.sandbox.control import Fault, SandboxOpportunity


class HubSpotSandboxClient:
    """Talks to the sandbox's ``/_sandbox/`` control endpoints; ``base_url`` includes any mount prefix."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/_sandbox", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self._http.post(path, json=body or {})
        r.raise_for_status()
        return r.json()

    def reset(self) -> None:
        self._post("/reset")

    def add_fault(self, fault: Fault) -> None:
        self._post("/faults", {**asdict(fault), "kind": str(fault.kind)})

    def clear_faults(self) -> None:
        self._http.delete("/faults").raise_for_status()

    def seed_account(self, name: str, domain: str | None = None, owner_email: str | None = None) -> str:
        return str(self._post("/seed/account", {"name": name, "domain": domain, "owner_email": owner_email})["id"])

    def seed_user(self, email: str, name: str | None = None) -> str:
        return str(self._post("/seed/user", {"email": email, "name": name})["id"])

    def seed_demo(self) -> list[str]:
        return [str(x) for x in self._post("/seed/demo")["companies"]]

    def opportunities(self) -> list[SandboxOpportunity]:
        r = self._http.get("/deals")
        r.raise_for_status()
        return [
            SandboxOpportunity(**{**o, "collaborator_ids": tuple(o.get("collaborator_ids") or ())})
            for o in r.json()["results"]
        ]

    def set_stage(self, crm_id: str, stage: str, amount: float | None = None) -> None:
        self._post(f"/deals/{crm_id}/stage", {"stage": stage, "amount": amount})

    def call_count(self, path_prefix: str | None = None) -> int:
        r = self._http.get("/calls", params={"prefix": path_prefix} if path_prefix else None)
        r.raise_for_status()
        return int(r.json()["count"])

    def drain_webhook_events(self) -> list[dict[str, Any]]:
        return list(self._post("/webhooks/drain")["events"])
