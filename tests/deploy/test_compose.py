"""compose.yaml: the scale-out deployment (PostgreSQL, one-shot migration, N API processes, M sync workers).

The file is read as YAML and its wiring checked on every run; ``docker compose config`` (Compose's own
validation, with interpolation) runs where the Compose plugin is installed and is skipped, saying so, elsewhere.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _docker_compose() -> list[str] | None:
    """The Compose v2 command, if installed (the docker CLI plugin, or the standalone binary)."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


class TestComposeFile:
    def test_every_process_runs_the_one_image_against_postgresql(self) -> None:
        services = _compose()["services"]
        assert set(services) == {"db", "migrate", "key", "api", "worker"}
        for name in ("migrate", "key", "api", "worker"):
            env = services[name]["environment"]
            assert services[name]["image"] == "signal-pipeline:local", name
            assert env["SIGNAL_PIPELINE_DATABASE_URL"].startswith("postgresql://"), name
            assert "@db:5432/" in env["SIGNAL_PIPELINE_DATABASE_URL"], name

    def test_migrations_run_once_before_api_and_workers(self) -> None:
        services = _compose()["services"]
        assert services["migrate"]["command"] == ["signal-pipeline", "migrate"]
        assert services["migrate"]["restart"] == "no"
        assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
        for name in ("key", "api", "worker"):
            assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert "--no-migrate" in " ".join(services["api"]["command"])

    def test_n_api_processes_m_workers_and_a_printed_key(self) -> None:
        services = _compose()["services"]
        assert '--workers "${API_WORKERS:-2}"' in services["api"]["command"][-1]
        assert services["worker"]["deploy"]["replicas"] == "${SYNC_WORKERS:-2}"
        assert services["worker"]["command"] == ["signal-pipeline", "worker"]
        assert services["key"]["command"][:3] == ["signal-pipeline", "dev", "key"]
        assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])


@pytest.mark.skipif(_docker_compose() is None, reason="Docker Compose v2 is not installed here (no `docker compose`)")
def test_docker_compose_config_accepts_the_file() -> None:
    command = _docker_compose()
    assert command is not None
    done = subprocess.run([*command, "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
