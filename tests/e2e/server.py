"""The real `signal-pipeline serve` as a separate process on a free port, for end-to-end tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port

BIN = Path(sys.executable).parent / "signal-pipeline"


@contextmanager
def serve(env: dict[str, str], log_dir: Path, timeout: float = 90, workers: int = 1) -> Iterator[str]:
    """Start the server (``workers`` processes), wait until /readyz answers 200, yield its URL; stop it afterwards.

    ``timeout`` catches a start that never succeeds; it is no speed target (on a loaded machine a start that
    migrates a fresh database can take well over 30 s)."""
    port = free_port()
    log_path = log_dir / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [BIN, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.1)
            yield url
            assert proc.poll() is None, log_path.read_text()
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def cli(env: dict[str, str], *args: str) -> str:
    """Run a `signal-pipeline` command and return what it printed."""
    return subprocess.run([BIN, *args], env=env, check=True, capture_output=True, text=True).stdout.strip()
