"""CLI commands of the sync: ``worker`` (the outbox relay process) and ``crm setup|pull|status``.

Mounted by ``app.cli``: ``cli.add_typer(worker_cli, name="worker")`` and ``cli.add_typer(crm_cli, name="crm")``.
"""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated

import typer
from sqlalchemy.engine import Engine

from app.core.settings import load_settings
from integrations.base import CRMAdapter

worker_cli = typer.Typer(help="Run the CRM sync worker.", add_completion=False)
crm_cli = typer.Typer(help="CRM integration: set up custom fields, pull, show sync status.", add_completion=False)


@worker_cli.callback(invoke_without_command=True)
def worker(
    worker_id: Annotated[str | None, typer.Option("--id", help="name in claims and logs")] = None,
    once: Annotated[bool, typer.Option("--once", help="drain what is due now, then exit")] = False,
) -> None:
    """Sync due opportunities into the CRM and deliver notifications until stopped (SIGTERM/SIGINT finish the
    batch in hand). Without a CRM configured it only delivers notifications."""
    from app.core.background import start_loops
    from app.core.db import make_engine
    from app.core.logging import configure_logging
    from app.core.secretbox import open_box_or_exit
    from app.notifications.delivery import deliver_due
    from app.sync import metrics
    from app.sync.worker import make_worker

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = threading.Event()
    worker = make_worker(settings, stop=stop, worker_id=worker_id)
    engine = make_engine(settings.database_url)
    open_box_or_exit(settings, engine)  # it signs notifications with stored secrets: wrong keys stop it here
    if settings.sync_metrics_port:
        metrics.serve_worker_metrics(settings.sync_metrics_port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if once:
        if worker is not None:
            worker.drain(timeout=3600)
        while deliver_due(engine, limit=100, policy=settings.webhook_policy):
            pass
        return
    background = start_loops(engine, settings, stop)
    try:
        if worker is not None:
            worker.run()
        else:
            typer.echo("no CRM configured (SIGNAL_PIPELINE_CRM=none): delivering notifications only", err=True)
            stop.wait()
    finally:
        stop.set()
        for thread in background:
            thread.join(timeout=30)
        if worker is not None:
            worker.engine.dispose()
        engine.dispose()


def _adapter_and_engine() -> tuple[CRMAdapter, Engine]:
    from app.core.db import make_engine
    from app.sync.adapters import build_adapter, choices

    settings = load_settings()
    adapter = build_adapter(settings)
    if adapter is None:
        typer.echo(f"no CRM configured: set SIGNAL_PIPELINE_CRM to one of {choices()}", err=True)
        raise typer.Exit(1)
    return adapter, make_engine(settings.database_url, pool_size=2)


@crm_cli.command("setup")
def setup() -> None:
    """Create the custom properties/fields the sync writes (idempotent)."""
    adapter, engine = _adapter_and_engine()
    try:
        created = adapter.setup()
    finally:
        engine.dispose()
    typer.echo(json.dumps({"crm": adapter.name, "created": created}))


@crm_cli.command("pull")
def pull_now() -> None:
    """Pull users, accounts and outcomes from the CRM now."""
    from app.sync.pull import pull_all

    adapter, engine = _adapter_and_engine()
    try:
        counts = pull_all(engine, adapter)
    finally:
        engine.dispose()
    typer.echo(json.dumps({"crm": adapter.name, **counts}))


@crm_cli.command("status")
def status() -> None:
    """Sync lag, job counts and recent errors per CRM."""
    from app.core.db import make_engine
    from app.sync.status import read_status

    engine = make_engine(load_settings().database_url, pool_size=1)
    try:
        crms = read_status(engine)
    finally:
        engine.dispose()
    typer.echo(json.dumps([c.model_dump(mode="json") for c in crms], indent=2))
