"""`signal-pipeline matching evaluate` and `... calibrate` on a small fixture in the shared format."""

from __future__ import annotations

import math

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from app.cli import cli
from app.core.db import make_engine, transaction
from app.dedup.features import FEATURES
from app.dedup.model import shipped
from app.duplicates import labels
from app.duplicates.calibration import MIN_LABELS, MIN_WEIGHT_LABELS
from app.duplicates.matcher import current
from app.duplicates.models import MatchCalibration
from tests.conftest import ROOT
from tests.unit.test_calibration import skewed

FIXTURE = ROOT / "tests" / "fixtures" / "dedup"


class TestEvaluate:
    def test_prints_every_figure(self) -> None:
        result = CliRunner().invoke(cli, ["matching", "evaluate", "--data", str(FIXTURE)])
        assert result.exit_code == 0, result.output
        for figure in (
            "pairwise_precision",
            "pairwise_recall",
            "pairwise_f1",
            "bcubed_f1",
            "hit@1",
            "hit@3",
            "hit@5",
            "attribution_precision",
            "attribution_recall",
            "false_attribution_rate",
        ):
            assert figure in result.output
        assert "6 signals" in result.output

    def test_a_directory_without_signals_is_refused(self, tmp_path: object) -> None:
        result = CliRunner().invoke(cli, ["matching", "evaluate", "--data", str(tmp_path)])
        assert result.exit_code == 2 and "signals.jsonl" in result.output


def _labels(db_url: str, n: int) -> None:
    """``n`` labels with features: those with a high first feature (wording) the same, the rest not."""
    with transaction(make_engine(db_url)) as session:
        for i in range(n):
            same = i % 2 == 0
            x = [0.0] * len(FEATURES)
            x[FEATURES.index("word_best")] = 0.8 if same else 0.05
            x[FEATURES.index("title_best")] = 0.7 if same else 0.0
            labels.record(session, labels.ACCEPT if same else labels.REJECT, same, "test", features=x)


class TestCalibrate:
    def test_few_labels_keep_the_shipped_calibration(self, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SIGNAL_PIPELINE_DATABASE_URL", db_url)
        _labels(db_url, 4)
        result = CliRunner().invoke(cli, ["matching", "calibrate"])
        assert result.exit_code == 0, result.output
        assert "from 4 labels" in result.output and "shipped calibration" in result.output
        with transaction(make_engine(db_url)) as session:
            (stored,) = session.exec(select(MatchCalibration))
            assert (stored.platt_a, stored.merge_threshold) == (shipped().platt_a, shipped().merge_threshold)

    def test_enough_labels_refit_and_are_stored(self, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SIGNAL_PIPELINE_DATABASE_URL", db_url)
        _labels(db_url, 2 * MIN_LABELS)
        result = CliRunner().invoke(cli, ["matching", "calibrate"])
        assert result.exit_code == 0, result.output
        assert f"from {2 * MIN_LABELS} labels" in result.output and "cv_log_loss_refit" in result.output
        with transaction(make_engine(db_url)) as session:
            (stored,) = session.exec(select(MatchCalibration))
            assert stored.labels == 2 * MIN_LABELS
            assert (stored.platt_a, stored.platt_b) != (shipped().platt_a, shipped().platt_b)
            assert 0.0 <= stored.suggest_floor <= stored.merge_threshold

    def test_enough_labels_refit_the_weights_and_the_service_uses_them(
        self, db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SIGNAL_PIPELINE_DATABASE_URL", db_url)
        drawn = skewed(3 * MIN_WEIGHT_LABELS)
        with transaction(make_engine(db_url)) as session:
            for label in drawn:
                labels.record(
                    session, labels.ACCEPT if label.same else labels.REJECT, label.same, "test", features=label.features
                )
        result = CliRunner().invoke(cli, ["matching", "calibrate"])
        assert result.exit_code == 0, result.output
        assert "weights refitted" in result.output and "cv_log_loss_shipped" in result.output
        with transaction(make_engine(db_url)) as session:
            (stored,) = session.exec(select(MatchCalibration))
            assert stored.coef is not None and stored.coef["features"] == list(FEATURES)
            model = current(session)
        x = drawn[0].features
        want = 1 / (
            1 + math.exp(-(stored.coef["init"] + sum(c * v for c, v in zip(stored.coef["coef"], x, strict=True))))
        )
        assert model.source == "calibrated" and model.coef == tuple(stored.coef["coef"])
        assert model.probability(x) == pytest.approx(want) and model.probability(x) != shipped().probability(x)
        assert model.merge_threshold == stored.merge_threshold

    def test_weights_fitted_for_other_features_are_not_used(self, db_url: str) -> None:
        with transaction(make_engine(db_url)) as session:
            session.add(
                MatchCalibration(
                    platt_a=1.0,
                    platt_b=0.0,
                    merge_threshold=0.5,
                    suggest_floor=0.1,
                    labels=500,
                    coef={"features": ["word_best"], "init": 0.0, "coef": [1.0]},
                )
            )
        with transaction(make_engine(db_url)) as session:
            assert current(session) == shipped()
