"""`signal-pipeline keys create`: a clear error, not a traceback, for an unknown contributor or scope."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import cli
from app.core.migrate import upgrade
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


class TestScopesMigration:
    def test_keys_from_before_keep_what_they_could_do_and_bound_keys_lose_the_leaks(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'old.db'}"
        upgrade(url, "0011_encrypt_secrets")  # the parent of 0012_scopes
        engine = sa.create_engine(url)
        person = uuid.uuid4().hex
        rows = {
            "integration": (["signals:write", "signals:read"], None),
            "reporting": (["reports:read"], None),
            "admin": (["admin"], None),
            "bound": (["signals:read", "signals:write"], person),
        }
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO contributors (id, email, function, created_at, signal_count) "
                    "VALUES (:id, 'a@x.se', 'other', :now, 0)"
                ),
                {"id": person, "now": datetime.now(UTC)},
            )
            for name, (scopes, bound) in rows.items():
                conn.execute(
                    sa.text(
                        "INSERT INTO api_keys (id, name, prefix, key_hash, scopes, contributor_id, created_at) "
                        "VALUES (:id, :name, :name, :name, :scopes, :bound, :now)"
                    ),
                    {
                        "id": uuid.uuid4().hex,
                        "name": name,
                        "scopes": json.dumps(scopes),
                        "bound": bound,
                        "now": datetime.now(UTC),
                    },
                )
        upgrade(url)
        with engine.connect() as conn:
            got = {
                name: sorted(json.loads(s)) for name, s in conn.execute(sa.text("SELECT name, scopes FROM api_keys"))
            }
        engine.dispose()
        assert got == {
            "integration": ["accounts:read", "signals:read", "signals:write", "signals:write:any", "sync:read"],
            "reporting": ["reports:read"],
            "admin": ["admin"],
            "bound": ["signals:read", "signals:write"],
        }
