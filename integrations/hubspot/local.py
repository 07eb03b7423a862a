"""The HubSpot sandbox (integrations/sandbox/hubspot.py) as the service runs it: mounted inside ``serve`` for a
newcomer's first run, or standalone for ``signal-pipeline sandbox``. Imported only when asked for."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from integrations.hubspot.config import HubSpotPropertyNames
from integrations.hubspot.mapping import deal_property_definitions
from integrations.hubspot.settings import HubSpotSettings

SANDBOX_TOKEN = "sandbox-token"  # noqa: S105  (a local fake's token, not a secret)
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"  # noqa: S105  (the local fake's app secret)
EMBEDDED_URL = "http://127.0.0.1:8000/sandbox/hubspot"  # `serve`'s defaults
STANDALONE_PORT = 8765
# The demo portal's currencies, company currency first: the README's signals are valued in SEK, and a deal in a
# currency the portal lacks is refused (INVALID_OPTION), as in a real portal.
DEMO_CURRENCIES = ("SEK", "EUR", "USD")


def environment(base_url: str) -> dict[str, str]:
    """The variables that point the HubSpot adapter at a sandbox served at ``base_url``."""
    return {
        HubSpotSettings.env_name("base_url"): base_url,
        HubSpotSettings.env_name("access_token"): SANDBOX_TOKEN,
        HubSpotSettings.env_name("record_url_template"): base_url + "/_sandbox/deals/{crm_id}",
        # The sandbox signs its deal webhooks with this and posts them to the service: outcomes in seconds.
        HubSpotSettings.env_name("client_secret"): SANDBOX_WEBHOOK_SECRET,
    }


def embed(settings: HubSpotSettings, webhook_url: str | None) -> Any:
    """A sandbox seeded with demo companies and owners, with our deal properties already created; with a
    ``webhook_url`` and a client secret it posts deal changes there, signed, like a HubSpot app subscription.

    It keeps its portal in memory: a restart empties it, and the next sync re-creates the deals.
    """
    from integrations.sandbox.hubspot import create_hubspot_sandbox, seed_demo, start_webhook_delivery
    from integrations.sandbox.hubspot_state import HubSpotSandboxConfig

    token = settings.access_token.get_secret_value() if settings.access_token else SANDBOX_TOKEN
    sandbox, state = create_hubspot_sandbox(HubSpotSandboxConfig(tokens=(token,), currencies=DEMO_CURRENCIES))
    seed_demo(state)
    # What `signal-pipeline crm setup` creates in a real portal, done in place so the first sync succeeds.
    names = HubSpotPropertyNames()
    state.create_group({"name": names.group, "label": names.group_label})
    for definition in deal_property_definitions(names):  # the SDK's snake_case; the wire is camelCase
        state.create_property({re.sub(r"_(\w)", lambda m: m[1].upper(), k): v for k, v in definition.items()})
    if settings.client_secret is not None and webhook_url:
        start_webhook_delivery(state, url=webhook_url, client_secret=settings.client_secret.get_secret_value())
    return sandbox


def set_stage(url: str | None, deal_id: str, stage: str, amount: float | None) -> None:
    """Move a sandbox deal to ``stage`` (a stage id of its pipeline); the sandbox then sends the webhook."""
    import httpx

    base = url or HubSpotSettings().base_url or EMBEDDED_URL
    body: dict[str, object] = {"stage": stage}
    if amount is not None:
        body["amount"] = amount
    r = httpx.post(f"{base.rstrip('/')}/_sandbox/deals/{deal_id}/stage", json=body, timeout=10)
    if r.status_code != 200:
        raise ValueError(f"the sandbox answered {r.status_code}: {r.text}")


@contextmanager
def serve(host: str, demo: bool) -> Iterator[list[str]]:
    """The sandbox on plain HTTP at ``host``:8765 in a background thread, for the ``with`` block."""
    import uvicorn

    from integrations.sandbox.hubspot import create_hubspot_sandbox, seed_demo
    from integrations.sandbox.hubspot_state import HubSpotSandboxConfig

    app, state = create_hubspot_sandbox(HubSpotSandboxConfig(tokens=(SANDBOX_TOKEN,), currencies=DEMO_CURRENCIES))
    if demo:
        seed_demo(state)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=STANDALONE_PORT, log_level="warning"))
    thread = threading.Thread(target=server.run, name="hubspot-sandbox", daemon=True)
    thread.start()
    try:
        yield [f"HubSpot sandbox     http://{host}:{STANDALONE_PORT}  (Authorization: Bearer {SANDBOX_TOKEN})"]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
