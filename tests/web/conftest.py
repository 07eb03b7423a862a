"""Web tests talk to the app on a loopback base URL, as a browser on the same machine would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.helpers import LOOPBACK


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    """A second browser with its own cookies."""
    with TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False) as client:
        yield client
