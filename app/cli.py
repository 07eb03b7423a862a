"""The `signal-pipeline` command line."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.core import startup

startup.pause()  # resumed at the end of this module, and by `serve`'s app once it is built

import app.tables  # noqa: F401  (every table registered before any query: foreign keys name other features' tables)
from app.core.auth import Scope
from app.core.settings import Settings, load_settings
from app.duplicates.cli import matching_cli
from app.mandates.cli import mandates_cli
from app.sync.cli import crm_cli, worker_cli
from integrations.registry import LocalSandbox

cli = typer.Typer(
    help="signal-pipeline: turn what staff notice at customers into credited CRM opportunities.",
    no_args_is_help=True,
)
keys_cli = typer.Typer(help="Manage API keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(worker_cli, name="worker")
cli.add_typer(crm_cli, name="crm")
cli.add_typer(mandates_cli, name="mandates")
cli.add_typer(matching_cli, name="matching")
dev_cli = typer.Typer(help="Development helpers for the embedded set-up.", no_args_is_help=True)
cli.add_typer(dev_cli, name="dev")
secrets_cli = typer.Typer(
    help="Keys of the secrets stored encrypted (SIGNAL_PIPELINE_SECRET_KEYS).", no_args_is_help=True
)
cli.add_typer(secrets_cli, name="secrets")

ALL_SCOPES = tuple(scope.value for scope in Scope)


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
    startup.pause()  # while uvicorn imports and builds the app; its lifespan resumes
    import uvicorn

    from app.core.logging import configure_logging, logging_config

    if os.environ.get("SIGNAL_PIPELINE_SANDBOX", "").lower() in ("1", "true", "yes"):
        # The embedded demo: the CRM's sandbox mounted in this server, synced by an in-process worker.
        from app.sync.adapters import embedded_sandbox_environment

        crm = os.environ.get("SIGNAL_PIPELINE_CRM", "none")
        for name, value in embedded_sandbox_environment(crm, f"http://{host}:{port}").items():
            os.environ.setdefault(name, value)
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    if migrate_first:
        from app.core.migrate import upgrade

        upgrade(settings.database_url)
    _check_secrets(settings)
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
        # The supervisor kills a worker that does not answer its ping in time (default 5 s); a worker importing
        # the app or loading the account directory on a busy machine can take longer, and was killed in a loop.
        timeout_worker_healthcheck=60,
    )


def _check_secrets(settings: Settings) -> None:
    """Stop here, with the reason, if the stored secrets do not decrypt with the configured keys."""
    from app.core.db import make_engine
    from app.core.secretbox import open_box_or_exit

    engine = make_engine(settings.database_url, pool_size=1)
    try:
        open_box_or_exit(settings, engine)
    finally:
        engine.dispose()


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="who or what uses the key, e.g. 'ticket-bot'")],
    scopes: Annotated[
        str | None,
        typer.Option(
            help=f"comma-separated: {', '.join(ALL_SCOPES)}; default signals:write with --contributor, "
            "else signals:write:any (an unbound key has no contributor of its own to report as)"
        ),
    ] = None,
    contributor: Annotated[str | None, typer.Option(help="bind the key to a contributor (id or e-mail)")] = None,
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    from app.contributors.service import resolve_contributor
    from app.core.auth import create_key
    from app.core.db import make_engine, transaction
    from app.core.errors import NotFound

    if scopes is None:
        scopes = "signals:write" if contributor else "signals:write:any"
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(ALL_SCOPES))
    if unknown or not wanted:
        raise typer.BadParameter(
            f"unknown scope(s) {unknown}; choose from {', '.join(ALL_SCOPES)}", param_hint="--scopes"
        )
    with transaction(make_engine(_settings().database_url)) as session:
        try:
            contributor_id = resolve_contributor(session, contributor).id if contributor else None
        except NotFound:
            # Only people who have reported a signal (or signed in to the web app) exist as contributors yet.
            raise typer.BadParameter(
                f"no contributor {contributor!r}: give the id or e-mail of someone who has reported a signal",
                param_hint="--contributor",
            ) from None
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
    help="Run the local CRM sandboxes, or act in one as a seller would (sandbox set-stage).",
    invoke_without_command=True,
)
cli.add_typer(sandbox_cli, name="sandbox")


def _sandbox_of(name: str) -> LocalSandbox:
    from integrations import registry

    vendor = registry.get("crm", name)
    if vendor.local_sandbox is None:
        raise typer.BadParameter(f"{name} has no local sandbox", param_hint="--crm")
    return vendor.local_sandbox


@sandbox_cli.command("set-stage")
def sandbox_set_stage(
    record_id: Annotated[str, typer.Argument(help="the CRM record's id (crm_id of the opportunity)")],
    stage: Annotated[str, typer.Argument(help="a stage of the record's pipeline, e.g. closedwon or closedlost")],
    amount: Annotated[float | None, typer.Option(help="the amount, e.g. 250000")] = None,
    crm: Annotated[str | None, typer.Option(help="which CRM's sandbox; default SIGNAL_PIPELINE_CRM")] = None,
    url: Annotated[str | None, typer.Option(help="the sandbox's URL; default: the configured or embedded one")] = None,
) -> None:
    """Move a sandbox record to a stage, as a seller would; the sandbox then tells the service (webhook)."""
    from app.sync.adapters import sandbox_vendor

    name = crm or sandbox_vendor(os.environ.get("SIGNAL_PIPELINE_CRM", "none")).name
    local = _sandbox_of(name)
    if local.set_stage is None:
        raise typer.BadParameter(f"the {name} sandbox cannot move records from here", param_hint="--crm")
    try:
        local.set_stage(url, record_id, stage, amount)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="RECORD_ID/STAGE") from None
    typer.echo(f"{record_id} is now in stage {stage}")


@sandbox_cli.callback()
def sandbox(
    ctx: typer.Context,
    crm: Annotated[list[str] | None, typer.Option(help="a CRM's name (repeatable); default: every CRM")] = None,
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    demo: Annotated[bool, typer.Option("--demo/--empty", help="seed demo companies and owners")] = True,
) -> None:
    """Run the local wire-compatible CRM sandboxes alone (Ctrl-C stops them)."""
    if ctx.invoked_subcommand is not None:
        return
    import threading

    from integrations import registry

    known = [name for name in registry.names("crm") if registry.get("crm", name).local_sandbox is not None]
    wanted = crm or known
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise typer.BadParameter(f"no sandbox for {', '.join(unknown)}; choose {', '.join(known)}", param_hint="--crm")
    with contextlib.ExitStack() as stack:
        for name in wanted:
            for line in stack.enter_context(_sandbox_of(name).serve(host, demo)):
                typer.echo(line)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


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


@secrets_cli.command("new-key")
def secrets_new_key() -> None:
    """Print a fresh key for SIGNAL_PIPELINE_SECRET_KEYS (put it first to encrypt with it)."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode())


@secrets_cli.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored secret with the first key of SIGNAL_PIPELINE_SECRET_KEYS (any listed key decrypts).

    Safe to run again: values already under the first key are left alone. Afterwards the other keys can go.
    """
    from app.core.db import make_engine
    from app.core.secretbox import RotationCount, box_from_settings, install, rotate_stored

    settings = _settings()
    box = box_from_settings(settings)
    install(box)
    typer.echo(f"encrypting with key {box.fingerprints[0]}; decrypting with {', '.join(box.fingerprints)}")

    def progress(column: str, count: RotationCount) -> None:
        typer.echo(f"  {column}: {count.rotated} re-encrypted, {count.current} already current", err=True)

    engine = make_engine(settings.database_url, pool_size=1)
    try:
        counts = rotate_stored(engine, box, progress)
    finally:
        engine.dispose()
    for column, count in counts.items():
        typer.echo(f"{column}: {count.rotated} re-encrypted, {count.current} already current")
    typer.echo(f"done: {sum(c.rotated for c in counts.values())} secrets re-encrypted")


startup.resume()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
