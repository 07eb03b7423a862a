"""A won opportunity's contributors are in the credit and concentration reports whatever its currency, with
amounts as two-place decimal strings and the report's currency always named."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import reports_current
from tests.conftest import KeyFactory, signal_body


def _range() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=30)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}


@pytest.mark.parametrize("won_currency", ["SEK", "EUR"])
def test_a_won_opportunitys_contributors_are_credited(
    client: TestClient, make_key: KeyFactory, won_currency: str
) -> None:
    headers = {"Authorization": f"Bearer {make_key()}"}
    account = {"crm_id": "A1", "name": "Nordkraft AB", "domains": ["nordkraft.se"]}
    assert client.post("/v1/accounts/import", json={"accounts": [account]}, headers=headers).status_code == 200
    signal = signal_body(value={"amount": "250000", "currency": "SEK"})
    opp = client.post("/v1/signals", json=signal, headers=headers).json()["opportunity"]["id"]
    won = {"status": "won", "amount": "250000", "currency": won_currency}
    assert client.post(f"/v1/opportunities/{opp}/outcome", json=won, headers=headers).status_code == 200
    reports_current(client)

    credit = client.get("/v1/reports/credit", params={**_range(), "group_by": "contributor"}, headers=headers).json()
    rows = credit["rows"]
    assert credit["currency"] and {r["label"] for r in rows} >= {"Anna Berg"}
    in_report_currency = won_currency == credit["currency"]
    assert all(r["won_value"] == ("250000.00" if in_report_currency else "0.00") for r in rows if r["originated"])
    text = client.get(
        "/v1/reports/credit", params={**_range(), "group_by": "contributor", "format": "csv"}, headers=headers
    ).text
    assert len(list(csv.DictReader(io.StringIO(text)))) == len(rows) >= 1
    concentration = client.get("/v1/reports/concentration", params=_range(), headers=headers).json()
    [account_row] = concentration["rows"]
    assert account_row["contributors"] >= 1 and account_row["won_value"].count(".") == 1
    assert len(account_row["won_value"].split(".")[1]) == 2


MONEY_FIELDS = ("open_pipeline_value", "pipeline_value", "won_value", "value", "credit_originator", "credit_equal")


def test_every_amount_in_every_report_and_format_is_a_two_place_decimal_string_with_a_currency(
    client: TestClient, make_key: KeyFactory
) -> None:
    headers = {"Authorization": f"Bearer {make_key()}"}
    account = {"crm_id": "A1", "name": "Nordkraft AB", "domains": ["nordkraft.se"]}
    assert client.post("/v1/accounts/import", json={"accounts": [account]}, headers=headers).status_code == 200
    opp = client.post("/v1/signals", json=signal_body(value={"amount": 250000, "currency": "SEK"}), headers=headers)
    won = {"status": "won", "amount": 250000, "currency": "SEK"}
    assert client.post(f"/v1/opportunities/{opp.json()['opportunity']['id']}/outcome", json=won, headers=headers)
    reports_current(client)
    params = {**_range(), "currency": "SEK"}
    seen: list[str] = []
    for report in ("contributions", "credit", "concentration"):
        body = client.get(f"/v1/reports/{report}", params=params, headers=headers).json()
        assert body["currency"] == "SEK"
        seen += [str(row[k]) for row in body["rows"] for k in MONEY_FIELDS if k in row]
        text = client.get(f"/v1/reports/{report}", params={**params, "format": "csv"}, headers=headers).text
        seen += [row[k] for row in csv.DictReader(io.StringIO(text)) for k in MONEY_FIELDS if k in row]
    person = {**params, "contributor": "anna.berg@ourco.se"}
    statement = client.get("/v1/reports/recognition", params=person, headers=headers).json()
    assert statement["currency"] == "SEK"
    text = client.get("/v1/reports/recognition", params={**person, "format": "csv"}, headers=headers).text
    lines = list(csv.DictReader(io.StringIO(text)))
    assert lines and all(line["currency"] == "SEK" for line in lines)
    seen += [line[k] for line in lines for k in MONEY_FIELDS if line.get(k)]
    opportunity = client.get(f"/v1/opportunities/{opp.json()['opportunity']['id']}", headers=headers).json()
    assert opportunity["outcome"]["currency"] == opportunity["estimated_currency"] == "SEK"
    seen += [opportunity["outcome"]["amount"], opportunity["estimated_amount"]]
    assert "250000.00" in seen and all(re.fullmatch(r"\d+\.\d{2}", v) for v in seen), seen
