"""The committed OpenAPI document is what the code generates; regenerate with `make openapi`."""

from __future__ import annotations

import json

from app.openapi import render
from tests.conftest import ROOT


def test_committed_openapi_is_current() -> None:
    committed = (ROOT / "openapi" / "openapi.json").read_text()
    assert committed == render(), "openapi/openapi.json is stale: run `make openapi` and commit it"


def test_every_operation_declares_problem_responses() -> None:
    spec = json.loads(render())
    for path, ops in spec["paths"].items():
        if path in ("/healthz", "/readyz", "/metrics"):
            continue
        for method, op in ops.items():
            assert "401" in op["responses"], (method, path)
