"""`signal-pipeline keys create`: a clear error, not a traceback, for an unknown contributor or scope."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import cli
from tests.api.helpers import row_counts


class TestKeysCreate:
    def test_an_unknown_contributor_is_named_and_no_key_is_stored(
        self, engine: sa.Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SIGNAL_PIPELINE_DATABASE_URL", db_url)
        before = row_counts(engine)
        result = CliRunner().invoke(
            cli, ["keys", "create", "--name", "x", "--scopes", "signals:read", "--contributor", "nobody@ourco.se"]
        )
        assert result.exit_code == 2, result.output
        assert "--contributor" in result.output and "nobody@ourco.se" in result.output
        assert isinstance(result.exception, SystemExit)  # a usage error, not an exception's traceback
        assert row_counts(engine) == before

    def test_an_unknown_scope_is_named(self, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SIGNAL_PIPELINE_DATABASE_URL", db_url)
        result = CliRunner().invoke(cli, ["keys", "create", "--name", "x", "--scopes", "signals:rule"])
        assert result.exit_code == 2 and "signals:rule" in result.output
