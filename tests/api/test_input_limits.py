"""Inputs a fuzzer found to cause 500s, and contract drift: each is now a 4xx problem+json naming the field,
and a rejected request stores nothing. The limits themselves live in schemas/limits.py."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from schemas.limits import MAX_CSV_FIELD_CHARS, MAX_JSON_DEPTH, MAX_TITLE_CHARS
from tests.api.helpers import row_counts
from tests.conftest import Resolver, signal_body

PROBLEM = "application/problem+json"


def assert_problem(r: object, status: int, field: str) -> None:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith(PROBLEM)  # type: ignore[attr-defined]
    fields = [e["field"] for e in r.json().get("errors") or []]  # type: ignore[attr-defined]
    assert field in fields, fields


class TestNulCharacters:
    @pytest.mark.parametrize(
        "path",
        [
            "/v1/signals?kind=a%00b",
            "/v1/signals?contributor=x%00@ourco.se",
            "/v1/accounts?q=%00",
            "/v1/opportunities?account=%00",
            "/v1/contributors?team=%00",
            "/v1/review/attribution?cursor=%00",
        ],
    )
    def test_in_a_query_parameter_is_422_naming_it(self, client: TestClient, auth: dict[str, str], path: str) -> None:
        name = path.split("?")[1].split("=")[0]
        assert_problem(client.get(path, headers=auth), 422, f"query.{name}")

    @pytest.mark.parametrize("path", ["/v1/accounts/%00", "/v1/contributors/a%00b", "/v1/contributors/a%00/signals"])
    def test_in_a_path_parameter_is_422(self, client: TestClient, auth: dict[str, str], path: str) -> None:
        assert_problem(client.get(path, headers=auth), 422, "path")

    def test_in_a_staff_count_name_is_422_and_nothing_is_stored(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        before = row_counts(engine)
        r = client.put("/v1/reports/staff-counts", json={"dimension": "team", "counts": {"L2\u0000": 5}}, headers=auth)
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
        assert "counts" in r.json()["errors"][0]["field"]
        assert row_counts(engine) == before


class TestAccountImport:
    def test_invalid_utf8_in_a_multipart_csv_is_422_naming_the_file(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        before = row_counts(engine)
        r = client.post(
            "/v1/accounts/import",
            files={"file": ("a.csv", b"crm_id,name\nC-1,Sk\xe4rholmen AB\n", "text/csv")},
            headers=auth,
        )
        assert_problem(r, 422, "file")
        assert row_counts(engine) == before

    def test_json_nested_ten_thousand_deep_is_422(self, client: TestClient, auth: dict[str, str]) -> None:
        body = '{"accounts": [' + "[" * 10_000 + "]" * 10_000 + "]}"
        r = client.post("/v1/accounts/import", content=body, headers={**auth, "Content-Type": "application/json"})
        assert_problem(r, 422, "body")
        assert str(MAX_JSON_DEPTH) in r.json()["errors"][0]["reason"]

    def test_nesting_just_inside_the_limit_reaches_the_handler(self, client: TestClient, auth: dict[str, str]) -> None:
        deep = "[" * (MAX_JSON_DEPTH - 2) + "]" * (MAX_JSON_DEPTH - 2)
        r = client.post("/v1/accounts/import", content='{"accounts": [' + deep + "]}", headers=auth)
        # The handler read it: the complaint is about the row's shape, not the body's depth.
        assert_problem(r, 422, "accounts.0")

    @pytest.mark.parametrize("size", [MAX_CSV_FIELD_CHARS + 1, 131_073])
    def test_a_csv_field_over_the_limit_is_422(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, size: int
    ) -> None:
        before = row_counts(engine)
        csv = f'crm_id,name\nC-1,"{"x" * size}"\n'
        r = client.post("/v1/accounts/import", content=csv, headers={**auth, "Content-Type": "text/csv"})
        assert_problem(r, 422, "body")
        assert row_counts(engine) == before


class TestDates:
    def test_report_to_year_9999_is_422_naming_to(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.get("/v1/reports/contributions?from=9999-12-01&to=9999-12-31", headers=auth)
        assert_problem(r, 422, "query.to")

    @pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1899-12-31T00:00Z"])
    def test_observed_at_outside_the_supported_years_is_422(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, value: str
    ) -> None:
        before = row_counts(engine)
        assert_problem(
            client.post("/v1/signals", json=signal_body(observed_at=value), headers=auth), 422, "observed_at"
        )
        assert row_counts(engine) == before

    @pytest.mark.parametrize("path", ["/v1/signals", "/v1/opportunities"])
    def test_list_filters_outside_the_supported_years_are_422(
        self, client: TestClient, auth: dict[str, str], path: str
    ) -> None:
        assert_problem(client.get(f"{path}?from=0001-01-01T00:00:00%2B05:00", headers=auth), 422, "query.from")

    def test_outcome_changed_at_in_year_9999_is_422(self, client: TestClient, auth: dict[str, str]) -> None:
        ref = "00000000-0000-0000-0000-000000000000"
        r = client.post(
            f"/v1/opportunities/{ref}/outcome",
            json={"status": "won", "changed_at": "9999-12-31T23:00:00-05:00"},
            headers=auth,
        )
        assert_problem(r, 422, "changed_at")

    @pytest.mark.parametrize("value", [253402300800, 1700000000, "253402300800", 1.5e9])
    def test_observed_at_as_a_number_is_422_not_read_as_milliseconds(
        self, client: TestClient, auth: dict[str, str], value: object
    ) -> None:
        r = client.post("/v1/signals", json=signal_body(observed_at=value), headers=auth)
        assert_problem(r, 422, "observed_at")
        assert "ISO 8601" in r.json()["errors"][0]["reason"]

    def test_observed_at_as_rfc3339_text_is_kept(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.post("/v1/signals", json=signal_body(observed_at="2025-03-01T09:30:00+01:00"), headers=auth)
        assert r.status_code == 201, r.text
        assert r.json()["observed_at"].startswith("2025-03-01T08:30:00")


class TestNumbers:
    @pytest.mark.parametrize("amount", ["1e-400", "1e400", "NaN", "Infinity", "-Infinity", "9" * 400])
    def test_out_of_range_amount_is_422_naming_it_and_stores_nothing(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, amount: str
    ) -> None:
        before = row_counts(engine)
        body = json.dumps(signal_body()).replace(
            '"kind"', f'"value": {{"amount": {amount}, "currency": "SEK"}}, "kind"'
        )
        r = client.post("/v1/signals", content=body, headers={**auth, "Content-Type": "application/json"})
        assert_problem(r, 422, "value.amount")
        assert row_counts(engine) == before

    def test_zero_written_with_an_exponent_is_still_zero(self, client: TestClient, auth: dict[str, str]) -> None:
        body = json.dumps(signal_body()).replace('"kind"', '"value": {"amount": 0e5, "currency": "SEK"}, "kind"')
        r = client.post("/v1/signals", content=body, headers={**auth, "Content-Type": "application/json"})
        assert r.status_code == 201, r.text

    def test_a_body_that_is_not_utf8_is_422(self, client: TestClient, auth: dict[str, str]) -> None:
        body = json.dumps(signal_body()).encode().replace(b"Invoices", b"Inv\xe4ices")
        r = client.post("/v1/signals", content=body, headers={**auth, "Content-Type": "application/json"})
        assert_problem(r, 422, "body")


class TestTitle:
    def test_a_jira_length_summary_is_accepted(self, client: TestClient, auth: dict[str, str]) -> None:
        title = ("Customer asks whether the invoice matching could also cover credit notes " * 4)[:241].strip()
        assert len(title) >= 240
        r = client.post("/v1/signals", json=signal_body(title=title), headers=auth)
        assert r.status_code == 201, r.text
        assert r.json()["title"] == title

    def test_a_title_over_the_limit_is_422(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.post("/v1/signals", json=signal_body(title="x" * (MAX_TITLE_CHARS + 1)), headers=auth)
        assert_problem(r, 422, "title")


class TestContract:
    def test_get_on_the_batch_path_is_405_with_allow_post(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.get("/v1/signals/batch", headers=auth)
        assert r.status_code == 405 and r.headers["content-type"].startswith(PROBLEM)
        assert r.headers["allow"] == "POST"

    def test_405_names_every_method_of_the_path(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.put("/v1/signals", headers=auth)
        assert r.status_code == 405
        assert r.headers["allow"] == "GET, POST"

    def test_a_deleted_subscription_is_404(self, client: TestClient, auth: dict[str, str], resolver: Resolver) -> None:
        resolver.table["hooks.example.com"] = [resolver.PUBLIC]
        sub = client.post("/v1/subscriptions", json={"url": "https://hooks.example.com/x"}, headers=auth).json()
        assert client.delete(f"/v1/subscriptions/{sub['id']}", headers=auth).status_code == 204
        assert client.get(f"/v1/subscriptions/{sub['id']}", headers=auth).status_code == 404
        assert client.delete(f"/v1/subscriptions/{sub['id']}", headers=auth).status_code == 404
        listed = client.get("/v1/subscriptions", headers=auth).json()["items"]
        assert sub["id"] not in [s["id"] for s in listed]

    def test_every_error_response_is_documented_as_problem_json(self, client: TestClient) -> None:
        document = client.get("/openapi.json").json()
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                for status, response in operation["responses"].items():
                    if status[0] in "45":
                        assert list(response["content"]) == [PROBLEM], (method, path, status)
                assert "422" in operation["responses"], (method, path)
        assert "HTTPValidationError" not in document["components"]["schemas"]
