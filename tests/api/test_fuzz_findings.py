"""Regression tests for what `make fuzz` (schemathesis over the whole OpenAPI document, fuzz/run.py) found.

Each test names the operation and the input that drew an undocumented answer or a schema violation.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.openapi import render
from tests.api.helpers import row_counts


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render())
    return document


def documented(openapi: dict[str, Any], method: str, path: str) -> set[str]:
    return set(openapi["paths"][path][method]["responses"])


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


class TestOpenApiDocument:
    def test_every_reference_resolves(self, openapi: dict[str, Any]) -> None:
        # POST /v1/accounts/import pointed at #/components/schemas/AccountImport, which was never published,
        # so no client (nor the fuzzer) could know the body's shape.
        schemas = openapi["components"]["schemas"]

        def resolves(ref: str) -> bool:
            node: Any = openapi
            for part in ref.removeprefix("#/").split("/"):  # schemas, and the rate-limit headers 429 refers to
                if not isinstance(node, dict) or part not in node:
                    return False
                node = node[part]
            return True

        missing = {r for r in refs(openapi) if not resolves(r)}
        assert missing == set()
        assert "AccountIn" in schemas and "AccountImport" in schemas


class TestListFilters:
    @pytest.mark.parametrize(
        ("path", "query"),
        [
            ("/v1/signals", "contributor=nobody@example.com"),
            ("/v1/signals", "account=no-such-crm-id"),
            ("/v1/opportunities", "account=0000"),
            ("/v1/opportunities", "contributor=00000000-0000-0000-0000-000000000000"),
        ],
    )
    def test_an_unknown_filter_value_is_a_documented_404(
        self, client: TestClient, auth: dict[str, str], openapi: dict[str, Any], path: str, query: str
    ) -> None:
        r = client.get(f"{path}?{query}", headers=auth)
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert "404" in documented(openapi, "get", path)


class TestAccountImportMultipart:
    @pytest.mark.parametrize(
        "content_type",
        ["multipart/form-data", "multipart/form-data; boundary=xyz", "multipart/form-data; boundary="],
    )
    def test_a_body_that_is_not_multipart_is_422_naming_file(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, content_type: str
    ) -> None:
        before = row_counts(engine)
        r = client.post(
            "/v1/accounts/import",
            content=b"--abc\r\nnot a part",
            headers={**auth, "Content-Type": content_type},
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in r.json()["errors"]] == ["file"]
        assert row_counts(engine) == before


class TestMandateNote:
    def test_a_nul_in_a_mandate_note_is_422_naming_it_and_nothing_is_stored(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        # PUT /v1/mandates with {"rules": [{"note": "...\u0000...", ...}]} was a 500 (psycopg DataError on PostgreSQL).
        before = row_counts(engine)
        body = '{"rules": [{"limit": null, "note": "\\f\\u0000\\u000b7w", "level": "report"}]}'
        r = client.put("/v1/mandates", content=body, headers={**auth, "Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in r.json()["errors"]] == ["rules.0.note"]
        assert row_counts(engine) == before
