"""`signal-pipeline matching ...`: refit the duplicate model's calibration (and weights) from the stored
decisions, and score a labelled set in the shared format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

matching_cli = typer.Typer(
    help="Deduplication: calibrate from review decisions, evaluate on labelled data.", no_args_is_help=True
)


@matching_cli.command("calibrate")
def calibrate() -> None:
    """Refit the calibration, thresholds and (with enough labels) the weights from the stored labels, print the
    cross-validated figures before and after, store it."""
    from app.core.db import make_engine, transaction
    from app.core.settings import load_settings
    from app.duplicates.calibration import calibrate as run

    with transaction(make_engine(load_settings().database_url)) as session:
        result = run(session)
    typer.echo(
        f"calibration from {result.labels} labels: platt ({result.platt_a:.4f}, {result.platt_b:.4f}), "
        f"merge threshold {result.merge_threshold:.4f}, suggestion floor {result.suggest_floor:.4f}, "
        f"weights {'refitted' if result.coef else 'shipped'}"
    )
    typer.echo("cross-validated on the labels (before = shipped, after = refit):")
    for k, v in result.figures.items():
        typer.echo(f"  {k}: {v}")
    typer.echo("stored; the service uses it from its next model check")


@matching_cli.command("evaluate")
def evaluate(
    data: Annotated[
        Path, typer.Option(help="a directory with signals.jsonl (and accounts.jsonl) in the shared format")
    ],
    max_age_days: Annotated[int | None, typer.Option(help="default: SIGNAL_PIPELINE_MATCH_MAX_AGE_DAYS")] = None,
    calibrated: Annotated[
        bool, typer.Option(help="use the database's newest calibration, not the shipped one")
    ] = False,
) -> None:
    """Replay the set in time order (each account's clustering with its gold account) and print pairwise
    P/R/F1, B-cubed F1, hit@1/3/5 and, with accounts.jsonl, attribution P/R/false attribution rate."""
    from app.core.settings import load_settings
    from app.dedup.evaluate import evaluate as run
    from app.dedup.model import shipped

    if not (data / "signals.jsonl").is_file():
        raise typer.BadParameter("no signals.jsonl in it", param_hint="--data")
    settings = load_settings()
    model = shipped()
    if calibrated:
        from app.core.db import make_engine, transaction
        from app.duplicates.matcher import current

        with transaction(make_engine(settings.database_url)) as session:
            model = current(session)
    days = max_age_days or settings.match_max_age_days
    figures = run(data, model, days)
    typer.echo(
        f"{data}: {figures['signals']:.0f} signals, horizon {days} d, merge threshold {model.merge_threshold:.3f}, "
        f"suggestion floor {model.suggest_floor:.3f}"
    )
    for k, v in figures.items():
        if k != "signals":
            typer.echo(f"  {k:24} {v:.3f}" if v <= 1 else f"  {k:24} {v:.0f}")
