"""Secrets at rest (app/core/secretbox.py): what the database holds, key rotation, and wrong keys at start.

Each test reads the raw columns with plain SQL (no model, so no decryption) to see what a database dump shows.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlmodel import SQLModel
from typer.testing import CliRunner

import app.tables  # noqa: F401  (the whole schema, for the dump)
from app.cli import cli
from app.core import secretbox
from app.core.db import make_engine, transaction
from app.core.migrate import upgrade
from app.core.secretbox import ENCRYPTED_COLUMNS, EncryptedString, SecretBox, SecretKeyError, rotate_stored
from app.core.settings import Settings, SettingsError, load_settings
from app.main import create_app
from app.notifications import signing
from app.notifications.models import Subscription
from tests.conftest import PG_URL, KeyFactory


@pytest.fixture(autouse=True)
def _restore_box() -> object:
    """Tests here install other keys; the next test gets the run's key back."""
    yield
    secretbox.install(secretbox.box_from_settings(load_settings()))


def dump(engine: sa.Engine) -> str:
    """Every value of every table, as text: what a stolen backup would show."""
    parts = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa.text(f'SELECT * FROM "{table.name}"')):
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


def raw_secrets(engine: sa.Engine) -> dict[uuid.UUID, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, secret FROM subscriptions")).all()
    return {uuid.UUID(str(r.id)): r.secret for r in rows}


def add_subscription(engine: sa.Engine) -> tuple[uuid.UUID, str]:
    secret = signing.new_secret()
    with transaction(engine) as session:
        sub = Subscription(url="https://hooks.example.com/in", secret=secret)
        session.add(sub)
    return sub.id, secret


def keys(*k: bytes) -> str:
    return ",".join(x.decode() for x in k)


class TestAtRest:
    def test_a_webhook_secret_is_stored_only_encrypted(self, engine: sa.Engine) -> None:
        sub_id, secret = add_subscription(engine)
        stored = raw_secrets(engine)[sub_id]
        assert stored.startswith("gAAAAA") and secret not in stored
        assert secret not in dump(engine)
        with transaction(engine) as session:
            sub = session.get(Subscription, sub_id)
            assert sub is not None and sub.secret == secret  # the service still signs with it

    def test_the_subscription_answer_shows_the_secret_once_and_the_database_never(
        self, db_url: str, engine: sa.Engine, auth: dict[str, str]
    ) -> None:
        # A loopback receiver needs the development switch (the outbound guard refuses it otherwise).
        settings = Settings(database_url=db_url, log_format="text", allow_insecure_webhooks=True)
        with TestClient(create_app(settings)) as client:
            created = client.post("/v1/subscriptions", json={"url": "http://127.0.0.1:9/in"}, headers=auth)
            assert created.status_code == 201, created.text
            secret = created.json()["secret"]
            assert secret.startswith("whsec_") and secret not in dump(engine)
            shown = client.get(f"/v1/subscriptions/{created.json()['id']}", headers=auth).json()
        assert "secret" not in shown

    def test_api_keys_are_stored_only_as_hashes(self, engine: sa.Engine, make_key: KeyFactory) -> None:
        raw = make_key()
        secret_part = raw.split("_", 2)[2]
        everything = dump(engine)
        assert raw not in everything and secret_part not in everything
        assert hashlib.sha256(raw.encode()).hexdigest() in everything

    def test_cli_created_keys_are_stored_only_as_hashes(self, db_url: str, engine: sa.Engine) -> None:
        result = CliRunner().invoke(
            cli,
            ["keys", "create", "--name", "bot", "--scopes", "signals:write"],
            env={"SIGNAL_PIPELINE_DATABASE_URL": db_url},
        )
        assert result.exit_code == 0, result.output
        raw = result.output.strip().splitlines()[-1]
        assert raw.startswith("sp_") and raw not in dump(engine) and raw.split("_", 2)[2] not in dump(engine)

    def test_every_encrypted_column_is_listed_for_rotation(self) -> None:
        declared = {
            (table.name, column.name)
            for table in SQLModel.metadata.sorted_tables
            for column in table.columns
            if isinstance(column.type, EncryptedString)
        }
        assert declared == {(c.table, c.column) for c in ENCRYPTED_COLUMNS}


class TestRotation:
    def test_rotate_then_drop_the_old_key_still_decrypts(self, db_url: str, engine: sa.Engine) -> None:
        old, new = Fernet.generate_key(), Fernet.generate_key()
        secretbox.install(SecretBox([old]))
        subs = dict(add_subscription(engine) for _ in range(3))
        before = raw_secrets(engine)

        both = SecretBox([new, old])
        secretbox.install(both)
        first = rotate_stored(engine, both)["subscriptions.secret"]
        again = rotate_stored(engine, both)["subscriptions.secret"]
        assert (first.rotated, first.current) == (3, 0)
        assert (again.rotated, again.current) == (0, 3)  # idempotent
        after = raw_secrets(engine)
        assert all(after[i] != before[i] for i in subs)

        settings = Settings(database_url=db_url, log_format="text", secret_keys=keys(new))
        # It starts (everything decrypts with the new key alone) and reads each secret back.
        with TestClient(create_app(settings)), transaction(engine) as session:
            assert {i: session.get(Subscription, i).secret for i in subs} == subs  # type: ignore[union-attr]

    def test_the_cli_rotates_with_progress_and_counts(self, db_url: str, engine: sa.Engine) -> None:
        old, new = Fernet.generate_key(), Fernet.generate_key()
        secretbox.install(SecretBox([old]))
        add_subscription(engine)
        env = {"SIGNAL_PIPELINE_DATABASE_URL": db_url, "SIGNAL_PIPELINE_SECRET_KEYS": keys(new, old)}
        first = CliRunner().invoke(cli, ["secrets", "rotate"], env=env)
        assert first.exit_code == 0, first.output
        assert "subscriptions.secret: 1 re-encrypted, 0 already current" in first.output
        assert "done: 1 secrets re-encrypted" in first.output
        second = CliRunner().invoke(cli, ["secrets", "rotate"], env=env)
        assert "subscriptions.secret: 0 re-encrypted, 1 already current" in second.output

    def test_rotate_encrypts_leftover_plaintext(self, engine: sa.Engine) -> None:
        sub_id, secret = add_subscription(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE subscriptions SET secret = :s"), {"s": secret})
        rotate_stored(engine, secretbox.current())
        assert raw_secrets(engine)[sub_id].startswith("gAAAAA")


class TestWrongKey:
    def test_a_wrong_key_stops_the_start_with_the_variable_named(self, db_url: str, engine: sa.Engine) -> None:
        add_subscription(engine)
        settings = Settings(database_url=db_url, log_format="text", secret_keys=keys(Fernet.generate_key()))
        with pytest.raises(SecretKeyError) as info, TestClient(create_app(settings)):
            pass
        assert "SIGNAL_PIPELINE_SECRET_KEYS" in str(info.value) and "rotate" in str(info.value)

    def test_serve_refuses_to_start_with_a_wrong_key(self, db_url: str, engine: sa.Engine) -> None:
        add_subscription(engine)
        env = {
            **os.environ,
            "SIGNAL_PIPELINE_DATABASE_URL": db_url,
            "SIGNAL_PIPELINE_SECRET_KEYS": Fernet.generate_key().decode(),
        }
        command = [str(Path(sys.executable).parent / "signal-pipeline"), "serve", "--no-migrate", "--port", "1"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 1
        assert "cannot start: stored secrets cannot be decrypted with SIGNAL_PIPELINE_SECRET_KEYS" in result.stderr
        assert "Traceback" not in result.stderr

    def test_a_malformed_key_is_a_settings_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SIGNAL_PIPELINE_SECRET_KEYS", "not-a-key")
        with pytest.raises(SettingsError, match="SIGNAL_PIPELINE_SECRET_KEYS"):
            load_settings()


def test_an_empty_keys_variable_with_a_key_file_shares_one_generated_key(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql://x@db/y", secret_keys="", secret_key_file=tmp_path / "k")
    assert settings.secret_keys is None and settings.key_file == tmp_path / "k"
    assert secretbox.box_from_settings(settings).fingerprints == secretbox.box_from_settings(settings).fingerprints


def test_without_keys_the_embedded_setup_generates_a_private_key_file(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/var/db.sqlite", secret_keys=None)
    first = secretbox.box_from_settings(settings)
    path = tmp_path / "var" / "secret-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secretbox.box_from_settings(settings).fingerprints == first.fingerprints  # read back, not replaced


@pytest.mark.parametrize("backend", ["sqlite", *(["postgresql"] if PG_URL else [])])
def test_the_migration_encrypts_plaintext_secrets(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url, drop = f"sqlite:///{tmp_path}/m.db", None
    else:
        assert PG_URL is not None
        name = f"sp_mig_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = PG_URL.rsplit("/", 1)[0] + "/" + name

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    try:
        upgrade(url, "0010_rate_limit_buckets")
        engine = make_engine(url)
        plaintext = signing.new_secret()
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO subscriptions (id, url, event_kinds, secret, active, created_at) "
                    "VALUES (:id, 'https://hooks.example.com/in', '[]', :s, true, CURRENT_TIMESTAMP)"
                ),
                {"id": uuid.uuid4().hex if backend == "sqlite" else str(uuid.uuid4()), "s": plaintext},
            )
        upgrade(url)
        [stored] = raw_secrets(engine).values()
        assert stored.startswith("gAAAAA") and secretbox.current().decrypt(stored) == plaintext
        engine.dispose()
    finally:
        if drop:
            drop()
