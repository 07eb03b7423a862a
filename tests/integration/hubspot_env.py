"""A HubSpot sandbox served by uvicorn on a free loopback port, and an adapter pointed at it.

``hubspot_env()`` yields the conformance shape (``.adapter``, ``.control``) plus HubSpot extras. The server
starts once per process (a daemon thread) and every ``hubspot_env()`` resets the portal, so tests are isolated
and still fast.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn

from integrations.hubspot import HubSpotAdapter, HubSpotConfig
from integrations.sandbox.hubspot import create_hubspot_sandbox
from integrations.sandbox.hubspot_state import HubSpotSandboxConfig, HubSpotSandboxState

TOKEN = "test-token"
CLIENT_SECRET = "test-client-secret"
# Short enough that a timeout-after-commit costs a fraction of a second.
READ_TIMEOUT = 0.6
STALL = 1.2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SandboxServer:
    """uvicorn serving an app on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="hubspot-sandbox")

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("HubSpot sandbox did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


# Search index lag is beside the point in most tests; test_crm_strictness exercises it.
BASE_SANDBOX_CONFIG = HubSpotSandboxConfig(tokens=(TOKEN,), default_stall_seconds=STALL, search_index_lag_seconds=0.0)

_lock = threading.Lock()
_shared: tuple[SandboxServer, HubSpotSandboxState] | None = None


def shared_sandbox() -> tuple[SandboxServer, HubSpotSandboxState]:
    """The process-wide sandbox server, started on first use."""
    global _shared
    with _lock:
        if _shared is None:
            app, state = create_hubspot_sandbox(replace(BASE_SANDBOX_CONFIG))
            _shared = (SandboxServer(app).start(), state)
        return _shared


@dataclass
class HubSpotEnv:
    """What the conformance suite needs (``adapter``, ``control``) plus HubSpot-specific handles."""

    adapter: HubSpotAdapter
    control: HubSpotSandboxState
    config: HubSpotConfig
    base_url: str
    name: str = "hubspot"
    stall_seconds: float = STALL
    write_path: str = "/crm/v3/objects/deals/batch/"  # where faults meant for deal writes are aimed
    honours_retry_after: bool = True
    clock_resolution: float = 0.005  # hs_lastmodifieddate has millisecond precision
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> HubSpotSandboxState:
        return self.control

    def make_adapter(self, **overrides: Any) -> HubSpotAdapter:
        """A second adapter on the same sandbox, e.g. with another token or pipeline."""
        return HubSpotAdapter(replace(self.config, **overrides))

    @property
    def won_stage(self) -> str:
        return self.stage_for("won")

    @property
    def lost_stage(self) -> str:
        return self.stage_for("lost")

    @property
    def open_stage(self) -> str:
        return self.stage_for("open")

    def stage_for(self, outcome: str) -> str:
        """A stage id of the configured pipeline meaning ``won``/``lost``/``open`` by its metadata."""
        pipeline = next(p for p in self.control.pipelines if p.id == self.config.pipeline_id)
        for s in pipeline.stages:
            if outcome == "won" and s.is_closed and s.probability == 1.0:
                return s.id
            if outcome == "lost" and s.is_closed and s.probability == 0.0:
                return s.id
            if outcome == "open" and not s.is_closed and s.id != self.config.initial_stage_id:
                return s.id
        raise LookupError(outcome)


def adapter_config(base_url: str, **overrides: Any) -> HubSpotConfig:
    cfg = HubSpotConfig(
        access_token=TOKEN,
        base_url=base_url,
        client_secret=CLIENT_SECRET,
        connect_timeout=2.0,
        read_timeout=READ_TIMEOUT,
        portal_id="4400001",
        record_url_template=base_url + "/_sandbox/deals/{crm_id}",
        search_index_lag_seconds=0.0,  # matches the sandbox lag of BASE_SANDBOX_CONFIG
    )
    return replace(cfg, **overrides)


@contextmanager
def hubspot_env(*, setup: bool = True, sandbox: dict[str, Any] | None = None, **overrides: Any) -> Iterator[HubSpotEnv]:
    """A reset sandbox portal (optionally with our properties set up) and an adapter talking to it over HTTP.

    ``sandbox`` overrides ``HubSpotSandboxConfig`` fields for this use; ``overrides`` go to ``HubSpotConfig``.
    """
    server, state = shared_sandbox()
    with state.lock:
        state.config = replace(BASE_SANDBOX_CONFIG, **(sandbox or {}))
        state.reset()
    config = adapter_config(server.url, **overrides)
    adapter = HubSpotAdapter(config)
    if setup:
        adapter.setup()
    try:
        yield HubSpotEnv(adapter=adapter, control=state, config=config, base_url=server.url)
    finally:
        with state.lock:
            state.clear_faults()
