"""Contributor pages: report a signal through the form, see its attribution, follow it in "my signals"."""

from __future__ import annotations

import re

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.web.helpers import csrf, sign_in

ACCOUNTS = {
    "accounts": [
        {"crm_id": "C-1", "name": "Tailspin Health AB", "domains": ["tailspin.se"]},
        {"crm_id": "C-2", "name": "Nordkraft AB", "domains": ["nordkraft.se"]},
    ]
}


def _import(client: TestClient, auth: dict[str, str]) -> None:
    assert client.post("/v1/accounts/import", json=ACCOUNTS, headers=auth).status_code == 200


def _report(client: TestClient, customer: str, title: str, body: str) -> str:
    form = {"csrf_token": csrf(client, "/app/signals/new"), "customer": customer, "kind": "new_use_case"}
    response = client.post("/app/signals", data={**form, "title": title, "body": body})
    assert response.status_code == 201, response.text
    return response.text


class TestReportSignal:
    def test_the_answer_names_the_account_and_the_new_opportunity(
        self, web: TestClient, engine: sa.Engine, auth: dict[str, str]
    ) -> None:
        _import(web, auth)
        sign_in(web, engine, "anna.berg@ourco.se")
        page = _report(web, "Tailspin Health", "Scheduling for all clinics", "They asked about 14 clinics.")
        assert re.search(r"Attributed to <strong>Tailspin Health AB</strong>", page)
        assert "a new opportunity" in page

    def test_a_second_report_of_the_same_need_shows_the_merge(
        self, web: TestClient, other_browser: TestClient, engine: sa.Engine, auth: dict[str, str]
    ) -> None:
        _import(web, auth)
        sign_in(web, engine, "anna.berg@ourco.se")
        sign_in(other_browser, engine, "per.lind@ourco.se")
        text = "Their operations lead wants our scheduling module rolled out to all 14 clinics next quarter."
        _report(web, "Tailspin Health", "Scheduling module for all clinics", text)
        page = _report(other_browser, "Tailspin Health", "Scheduling module for every clinic", text)
        assert "Merged with an existing opportunity" in page

    def test_invalid_fields_are_named_next_to_their_inputs_and_nothing_is_stored(
        self, web: TestClient, engine: sa.Engine
    ) -> None:
        sign_in(web, engine, "anna.berg@ourco.se")
        form = {"csrf_token": csrf(web, "/app/signals/new"), "customer": "", "kind": "other", "title": "ab", "body": ""}
        response = web.post("/app/signals", data=form)
        assert response.status_code == 422
        assert 'id="customer-error"' in response.text and 'id="title-error"' in response.text
        assert 'id="customer" name="customer"' in response.text and 'aria-invalid="true"' in response.text
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from signals")).scalar_one() == 0

    def test_the_typeahead_offers_directory_accounts(
        self, web: TestClient, engine: sa.Engine, auth: dict[str, str]
    ) -> None:
        _import(web, auth)
        sign_in(web, engine, "anna.berg@ourco.se")
        options = web.get("/app/accounts/options?customer=nord").text
        assert '<option value="Nordkraft AB">' in options and "Tailspin" not in options


class TestMySignals:
    def test_shows_my_signals_with_their_account_and_not_anyone_elses(
        self, web: TestClient, other_browser: TestClient, engine: sa.Engine, auth: dict[str, str]
    ) -> None:
        _import(web, auth)
        sign_in(web, engine, "anna.berg@ourco.se")
        sign_in(other_browser, engine, "per.lind@ourco.se")
        _report(web, "Nordkraft", "Invoices keyed in by hand", "About 3,000 supplier invoices a month.")
        _report(other_browser, "Tailspin Health", "Clinic scheduling", "Wants scheduling everywhere.")
        mine = web.get("/app/me").text
        assert "Invoices keyed in by hand" in mine and "Nordkraft AB" in mine and "attributed" in mine
        assert "Clinic scheduling" not in mine
