"""`signal-pipeline mandates ...`: load the mandate policy from a YAML file, show the one in force."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from app.core.errors import InvalidInput

mandates_cli = typer.Typer(help="The mandate policy: what contributors may propose or quote.", no_args_is_help=True)


@mandates_cli.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="YAML: a list `rules:` of {function, kind, level, limit, note}")],
) -> None:
    """Replace the mandate policy with the file's (the same rules and checks as PUT /v1/mandates)."""
    from app.core.db import make_engine, transaction
    from app.core.settings import load_settings
    from app.mandates import service

    settings = load_settings()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(f"cannot read it ({exc.strerror})", param_hint="FILE") from None
    try:
        policy = service.parse_yaml(text)
        with transaction(make_engine(settings.database_url)) as session:
            read = service.replace_policy(session, policy, settings.contributor_functions, settings.signal_kinds)
    except InvalidInput as exc:
        for error in exc.errors or []:
            typer.echo(f"{file}: {error.field}: {error.reason}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"loaded {len(read.rules)} mandate rules")


@mandates_cli.command("show")
def show() -> None:
    """Print the policy in force as JSON."""
    from app.core.db import make_engine, transaction
    from app.core.settings import load_settings
    from app.mandates import service

    with transaction(make_engine(load_settings().database_url)) as session:
        typer.echo(json.dumps(service.read_policy(session).model_dump(mode="json"), indent=2))
