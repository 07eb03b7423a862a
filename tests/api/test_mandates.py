"""The mandate policy: PUT/GET /v1/mandates, the YAML loader, and the mandate shown with each reported signal."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from tests.api.helpers import row_counts
from tests.conftest import ROOT, KeyFactory, signal_body

POLICY = {
    "rules": [
        {"function": "*", "kind": "*", "level": "report"},
        {
            "function": "delivery",
            "kind": "expansion",
            "level": "propose",
            "limit": {"amount": "100000", "currency": "SEK"},
            "note": "Extensions of the current delivery only.",
        },
        {"function": "customer_success", "kind": "*", "level": "quote"},
        {"function": "*", "kind": "renewal_risk", "level": "propose"},
    ]
}


def post_signal(client: TestClient, auth: dict[str, str], function: str, kind: str, value: int | None = None) -> dict:  # type: ignore[type-arg]
    body = signal_body(kind=kind)
    body["contributor"] = {"email": f"{function}@ourco.se", "function": function}
    if value is not None:
        body["value"] = {"amount": value, "currency": "SEK"}
    r = client.post("/v1/signals", json=body, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()["mandate"]  # type: ignore[no-any-return]


class TestPolicy:
    def test_put_replaces_and_get_reads_it_back(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.put("/v1/mandates", json=POLICY, headers=auth)
        assert r.status_code == 200, r.text
        r = client.put("/v1/mandates", json={"rules": POLICY["rules"][:2]}, headers=auth)
        rules = client.get("/v1/mandates", headers=auth).json()["rules"]
        assert {(x["function"], x["kind"]) for x in rules} == {("*", "*"), ("delivery", "expansion")}
        assert next(x for x in rules if x["function"] == "delivery")["limit"] == {
            "amount": "100000.00",
            "currency": "SEK",
        }

    @pytest.mark.parametrize(
        ("rule", "field"),
        [
            ({"function": "astrology", "kind": "*", "level": "quote"}, "rules.0.function"),
            ({"function": "*", "kind": "gossip", "level": "quote"}, "rules.0.kind"),
            (
                {"function": "*", "kind": "*", "level": "report", "limit": {"amount": 1, "currency": "SEK"}},
                "rules.0.limit",
            ),
            ({"function": "*", "kind": "*", "level": "boss"}, "rules.0.level"),
        ],
    )
    def test_a_bad_rule_is_a_problem_naming_the_field_and_nothing_is_stored(
        self,
        client: TestClient,
        auth: dict[str, str],
        engine: sa.Engine,
        rule: dict,
        field: str,  # type: ignore[type-arg]
    ) -> None:
        before = row_counts(engine)
        r = client.put("/v1/mandates", json={"rules": [rule]}, headers=auth)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in r.json()["errors"]]
        assert row_counts(engine) == before

    def test_the_same_pair_twice_is_rejected(self, client: TestClient, auth: dict[str, str]) -> None:
        rule = {"function": "support", "kind": "*", "level": "propose"}
        r = client.put("/v1/mandates", json={"rules": [rule, rule]}, headers=auth)
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "duplicate_rule"

    def test_only_admin_may_replace_it(self, client: TestClient, make_key: KeyFactory) -> None:
        headers = {"Authorization": f"Bearer {make_key('signals:read', 'signals:write')}"}
        assert client.put("/v1/mandates", json=POLICY, headers=headers).status_code == 403
        assert client.get("/v1/mandates", headers=headers).status_code == 200


class TestMandateOnSignals:
    @pytest.mark.parametrize(
        ("function", "kind", "value", "level", "follow_up", "says"),
        [
            # Only the catch-all applies: report, and the account owner follows up.
            ("support", "inefficiency", None, "report", "account_owner", "the account owner will follow up"),
            # Function and kind: propose within the limit...
            ("delivery", "expansion", 40_000, "propose", "contributor", "You may propose this to the customer up to"),
            # ...and above it, the owner takes it.
            ("delivery", "expansion", 400_000, "report", "account_owner", "above your limit of 100 000 SEK"),
            # Function only (kind *).
            ("customer_success", "changed_need", None, "quote", "contributor", "and quote it"),
            # Kind only (function *).
            ("engineering", "renewal_risk", None, "propose", "contributor", "You may propose this"),
            # The more specific function rule beats the kind rule.
            ("customer_success", "renewal_risk", None, "quote", "contributor", "and quote it"),
        ],
    )
    def test_the_response_shows_the_contributors_mandate(
        self,
        client: TestClient,
        auth: dict[str, str],
        function: str,
        kind: str,
        value: int | None,
        level: str,
        follow_up: str,
        says: str,
    ) -> None:
        assert client.put("/v1/mandates", json=POLICY, headers=auth).status_code == 200
        mandate = post_signal(client, auth, function, kind, value)
        assert (mandate["level"], mandate["follow_up"]) == (level, follow_up)
        assert says in mandate["message"]
        assert mandate["may_propose"] is (level in ("propose", "quote"))
        assert mandate["may_quote"] is (level == "quote")

    def test_without_a_policy_everyone_reports(self, client: TestClient, auth: dict[str, str]) -> None:
        mandate = post_signal(client, auth, "delivery", "expansion", 10)
        assert mandate["level"] == "report" and mandate["rule"] == {"function": "*", "kind": "*"}

    def test_reading_a_signal_back_shows_the_mandate_in_force(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.post("/v1/signals", json=signal_body(), headers=auth)
        sid = r.json()["id"]
        client.put(
            "/v1/mandates", json={"rules": [{"function": "support", "kind": "*", "level": "quote"}]}, headers=auth
        )
        assert client.get(f"/v1/signals/{sid}", headers=auth).json()["mandate"]["level"] == "quote"
        listed = client.get("/v1/signals", headers=auth).json()["items"]
        assert [s["mandate"]["level"] for s in listed] == ["quote"]

    def test_resolve_answers_for_a_form_before_anything_is_reported(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        client.put("/v1/mandates", json=POLICY, headers=auth)
        r = client.get(
            "/v1/mandates/resolve",
            params={"function": "delivery", "kind": "expansion", "amount": "5000", "currency": "sek"},
            headers=auth,
        )
        assert r.status_code == 200 and r.json()["within_limit"] is True
        r = client.get(
            "/v1/mandates/resolve", params={"function": "delivery", "kind": "x", "currency": "XXQ"}, headers=auth
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.currency"


class TestLoadCommand:
    def test_the_example_file_loads_and_applies(
        self, client: TestClient, auth: dict[str, str], db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SIGNAL_PIPELINE_DATABASE_URL", db_url)
        result = CliRunner().invoke(cli, ["mandates", "load", str(ROOT / "docs/examples/mandates.yaml")])
        assert result.exit_code == 0, result.output
        assert "loaded 5 mandate rules" in result.output
        mandate = post_signal(client, auth, "support", "inefficiency", 20_000)
        assert mandate["level"] == "propose" and mandate["limit"] == {"amount": "50000.00", "currency": "SEK"}

    def test_a_bad_file_names_the_field_and_changes_nothing(
        self, client: TestClient, auth: dict[str, str], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SIGNAL_PIPELINE_DATABASE_URL", db_url)
        client.put("/v1/mandates", json=POLICY, headers=auth)
        bad = tmp_path / "bad.yaml"
        bad.write_text("rules:\n  - function: support\n    kind: '*'\n    level: emperor\n")
        result = CliRunner().invoke(cli, ["mandates", "load", str(bad)])
        assert result.exit_code == 1 and "rules.0.level" in result.output
        broken = tmp_path / "broken.yaml"
        broken.write_text("rules: [\n")
        result = CliRunner().invoke(cli, ["mandates", "load", str(broken)])
        assert result.exit_code == 1 and "not valid YAML" in result.output
        assert len(client.get("/v1/mandates", headers=auth).json()["rules"]) == 4
