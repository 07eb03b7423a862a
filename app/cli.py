"""The `signal-pipeline` command line."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

import app.tables  # noqa: F401  (every table registered before any query: foreign keys name other features' tables)
from app.core.settings import Settings, load_settings
from app.mandates.cli import mandates_cli
from app.sync.cli import crm_cli, worker_cli

cli = typer.Typer(
    help="signal-pipeline: turn what staff notice at customers into credited CRM opportunities.",
    no_args_is_help=True,
)
keys_cli = typer.Typer(help="Manage API keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(worker_cli, name="worker")
cli.add_typer(crm_cli, name="crm")
cli.add_typer(mandates_cli, name="mandates")
dev_cli = typer.Typer(help="Development helpers for the embedded set-up.", no_args_is_help=True)
cli.add_typer(dev_cli, name="dev")

ALL_SCOPES = ("signals:write", "signals:read", "reports:read", "admin")


def _settings() -> Settings:
    settings = load_settings()
    path = settings.sqlite_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return settings


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the latest migration."""
    from app.core.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    typer.echo("database schema is up to date")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes (PostgreSQL only)")] = 1,
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate", help="upgrade the schema first")] = True,
) -> None:
    """Run the HTTP service."""
    import uvicorn

    from app.core.logging import configure_logging, logging_config
    from app.core.migrate import upgrade

    if os.environ.get("SIGNAL_PIPELINE_SANDBOX", "").lower() in ("1", "true", "yes"):
        # The embedded demo: the HubSpot sandbox mounted in this server, synced by an in-process worker.
        from app.main import SANDBOX_PATH, SANDBOX_TOKEN, SANDBOX_WEBHOOK_SECRET

        for name, value in {
            "SIGNAL_PIPELINE_CRM": "hubspot",
            "SIGNAL_PIPELINE_HUBSPOT_BASE_URL": f"http://{host}:{port}{SANDBOX_PATH}",
            "SIGNAL_PIPELINE_HUBSPOT_ACCESS_TOKEN": SANDBOX_TOKEN,
            "SIGNAL_PIPELINE_HUBSPOT_RECORD_URL_TEMPLATE": f"http://{host}:{port}{SANDBOX_PATH}"
            "/_sandbox/deals/{crm_id}",
            "SIGNAL_PIPELINE_WORKER_IN_PROCESS": "true",
            # The sandbox signs its deal webhooks with this and posts them here, so outcomes arrive in seconds.
            "SIGNAL_PIPELINE_HUBSPOT_CLIENT_SECRET": SANDBOX_WEBHOOK_SECRET,
            "SIGNAL_PIPELINE_WEBHOOK_BASE_URL": f"http://{host}:{port}",
            "SIGNAL_PIPELINE_SANDBOX_URL": f"http://{host}:{port}/sandbox",
        }.items():
            os.environ.setdefault(name, value)
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    if migrate_first:
        upgrade(settings.database_url)
    if workers > 1 and settings.sqlite_path is not None:
        raise typer.BadParameter("several workers need PostgreSQL; SQLite serves one process", param_hint="--workers")
    typer.echo(f"signal-pipeline listening on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=logging_config(settings.log_level, settings.log_format),
        proxy_headers=False,
    )


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="who or what uses the key, e.g. 'jira-bot'")],
    scopes: Annotated[str, typer.Option(help=f"comma-separated: {', '.join(ALL_SCOPES)}")] = "signals:write",
    contributor: Annotated[str | None, typer.Option(help="bind the key to a contributor (id or e-mail)")] = None,
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    from app.contributors.service import resolve_contributor
    from app.core.auth import create_key
    from app.core.db import make_engine, transaction

    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(ALL_SCOPES))
    if unknown or not wanted:
        raise typer.BadParameter(
            f"unknown scope(s) {unknown}; choose from {', '.join(ALL_SCOPES)}", param_hint="--scopes"
        )
    with transaction(make_engine(_settings().database_url)) as session:
        contributor_id = resolve_contributor(session, contributor).id if contributor else None
        _key, raw = create_key(session, name, wanted, contributor_id)
    typer.echo(raw)


@keys_cli.command("list")
def keys_list() -> None:
    """List API keys (never their secrets)."""
    from sqlmodel import col, select

    from app.core.db import make_engine, transaction
    from app.core.tables import ApiKey

    with transaction(make_engine(_settings().database_url)) as session:
        for key in session.exec(select(ApiKey).order_by(col(ApiKey.created_at))):
            state = "revoked" if key.revoked_at else "active"
            typer.echo(f"{key.prefix}\t{key.name}\t{','.join(key.scopes)}\t{state}\t{key.created_at:%Y-%m-%d}")


@keys_cli.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="the key's prefix (from `keys list`) or id")],
) -> None:
    """Revoke an API key; requests with it fail within seconds."""
    from app.core.auth import revoke
    from app.core.db import make_engine, transaction

    with transaction(make_engine(_settings().database_url)) as session:
        key = revoke(session, prefix)
    if key is None:
        typer.echo(f"no key with prefix {prefix}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key.prefix} ({key.name})")


@cli.command()
def openapi(
    out: Annotated[Path | None, typer.Option(help="write here instead of standard output")] = None,
) -> None:
    """Print or write the OpenAPI document generated from the code."""
    from app.openapi import render

    text = render()
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        typer.echo(f"wrote {out}")


sandbox_cli = typer.Typer(
    help="Run the local CRM sandboxes, or act in one as a seller would (sandbox deal set-stage).",
    invoke_without_command=True,
)
cli.add_typer(sandbox_cli, name="sandbox")
sandbox_deal_cli = typer.Typer(help="Deals in the HubSpot sandbox, moved as a seller would.", no_args_is_help=True)
sandbox_cli.add_typer(sandbox_deal_cli, name="deal")


@sandbox_deal_cli.command("set-stage")
def sandbox_deal_set_stage(
    deal_id: Annotated[str, typer.Argument(help="the deal's id (crm_id of the opportunity)")],
    stage: Annotated[str, typer.Argument(help="a stage id of the deal's pipeline, e.g. closedwon or closedlost")],
    amount: Annotated[float | None, typer.Option(help="the deal amount, e.g. 250000")] = None,
    url: Annotated[
        str | None,
        typer.Option(help="the sandbox's URL; default SIGNAL_PIPELINE_HUBSPOT_BASE_URL or the embedded sandbox"),
    ] = None,
) -> None:
    """Move a sandbox deal to a stage; the sandbox then sends HubSpot's signed webhook to the service."""
    import httpx

    base = url or os.environ.get("SIGNAL_PIPELINE_HUBSPOT_BASE_URL") or "http://127.0.0.1:8000/sandbox/hubspot"
    body: dict[str, object] = {"stage": stage}
    if amount is not None:
        body["amount"] = amount
    r = httpx.post(f"{base.rstrip('/')}/_sandbox/deals/{deal_id}/stage", json=body, timeout=10)
    if r.status_code != 200:
        raise typer.BadParameter(f"the sandbox answered {r.status_code}: {r.text}", param_hint="DEAL_ID/STAGE")
    typer.echo(f"deal {deal_id} is now in stage {stage}")


@sandbox_cli.callback()
def sandbox(
    ctx: typer.Context,
    crm: Annotated[str, typer.Option(help="hubspot, salesforce or both")] = "both",
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    hubspot_port: Annotated[int, typer.Option(help="HubSpot sandbox port (plain HTTP)")] = 8765,
    token: Annotated[str, typer.Option(help="bearer token the HubSpot sandbox accepts")] = "sandbox-token",  # noqa: S107  (a local fake)
    demo: Annotated[bool, typer.Option("--demo/--empty", help="seed demo companies and owners")] = True,
) -> None:
    """Run the local wire-compatible CRM sandboxes alone (Ctrl-C stops them)."""
    if ctx.invoked_subcommand is not None:
        return
    import threading

    import uvicorn

    from integrations.sandbox.hubspot import create_hubspot_sandbox, seed_demo
    from integrations.sandbox.hubspot_state import HubSpotSandboxConfig
    from integrations.sandbox.salesforce_server import run_salesforce_sandbox

    if crm not in ("hubspot", "salesforce", "both"):
        raise typer.BadParameter("choose hubspot, salesforce or both", param_hint="--crm")
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        if crm in ("salesforce", "both"):
            sf = stack.enter_context(run_salesforce_sandbox(host=host))
            typer.echo(f"Salesforce sandbox  {sf.base_url}  (TLS; trust the CA in {sf.ca_file})")
        if crm in ("hubspot", "both"):
            app, state = create_hubspot_sandbox(HubSpotSandboxConfig(tokens=(token,)))
            if demo:
                seed_demo(state)
            typer.echo(f"HubSpot sandbox     http://{host}:{hubspot_port}  (Authorization: Bearer {token})")
            uvicorn.run(app, host=host, port=hubspot_port, log_level="warning")
        else:
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()


@dev_cli.command("seed")
def dev_seed(
    signals: Annotated[int, typer.Option(help="signals to generate")] = 1_000_000,
    opportunities: Annotated[int | None, typer.Option(help="default: 30 % of signals")] = None,
    contributors: Annotated[int, typer.Option(help="distinct people")] = 5_000,
    accounts: Annotated[int, typer.Option(help="customer accounts")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same data")] = 1,
) -> None:
    """Generate a realistic dataset (signals, opportunities, credits, outcomes) for reports and benchmarks."""
    from app.core.db import make_engine
    from app.dev_seed import seed as run_seed

    settings = _settings()
    engine = make_engine(settings.database_url)
    counts = run_seed(
        engine,
        signals=signals,
        opportunities=opportunities if opportunities is not None else max(1, signals * 3 // 10),
        contributors=contributors,
        accounts=accounts,
        seed=seed,
        progress=lambda line: typer.echo(line, err=True),
    )
    typer.echo(json.dumps(counts))


@dev_cli.command("key")
def dev_key(
    file: Annotated[Path, typer.Option(help="where the development key is kept")] = Path("var/dev-api-key"),
) -> None:
    """Print the development API key (all scopes), creating it on first use."""
    from app.core.auth import create_key
    from app.core.db import make_engine, transaction

    if file.exists():
        typer.echo(file.read_text().strip())
        return
    with transaction(make_engine(_settings().database_url)) as session:
        _key, raw = create_key(session, "development", list(ALL_SCOPES))
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(raw + "\n")
    file.chmod(0o600)
    typer.echo(raw)


@dev_cli.command("login-link")
def dev_login_link(
    email: Annotated[str, typer.Option(help="who signs in (the contributor with this e-mail, created if new)")],
    role: Annotated[str, typer.Option(help="contributor, seller, analyst or admin")] = "contributor",
    base_url: Annotated[str, typer.Option(help="where the service answers")] = "http://127.0.0.1:8000",
) -> None:
    """Print a one-time web sign-in link (valid 15 minutes). Only while no OpenID Connect issuer is configured."""
    from email_validator import EmailNotValidError, validate_email

    from app.core.db import make_engine, transaction
    from app.web.sessions import ROLES, create_link_token

    settings = _settings()
    if settings.oidc_issuer:
        raise typer.BadParameter("sign-in links are off while SIGNAL_PIPELINE_OIDC_ISSUER is set", param_hint="--email")
    if role not in ROLES:
        raise typer.BadParameter(f"must be one of: {', '.join(ROLES)}", param_hint="--role")
    try:
        address = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise typer.BadParameter(str(exc), param_hint="--email") from None
    with transaction(make_engine(settings.database_url)) as session:
        token = create_link_token(session, address, ROLES[ROLES.index(role)])
    typer.echo(f"{base_url.rstrip('/')}/app/login/link?token={token}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
