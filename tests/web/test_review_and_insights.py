"""Seller and analyst pages: the same authorization as the API, actions through the same services."""

from __future__ import annotations

import csv
import io
import re

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.helpers import reports_current
from tests.conftest import signal_body
from tests.web.helpers import csrf, sign_in


def _waiting(client: TestClient, auth: dict[str, str]) -> str:
    """A signal about a customer the directory does not know: it waits for review."""
    body = signal_body(customer={"name": "Unknown Widgets GmbH"})
    response = client.post("/v1/signals", json=body, headers=auth)
    assert response.status_code == 201 and response.json()["status"] == "needs_review"
    return str(response.json()["id"])


def _import(client: TestClient, auth: dict[str, str]) -> None:
    accounts = {"accounts": [{"crm_id": "C-9", "name": "Widgets Nordic AB", "domains": ["widgets.se"]}]}
    assert client.post("/v1/accounts/import", json=accounts, headers=auth).status_code == 200


class TestReview:
    def test_a_seller_assigns_the_account_and_the_signal_leaves_the_queue(
        self, web: TestClient, engine: sa.Engine, auth: dict[str, str]
    ) -> None:
        _import(web, auth)
        signal_id = _waiting(web, auth)
        sign_in(web, engine, "sara.ek@ourco.se", "seller")
        assert f'id="review-{signal_id}"' in web.get("/app/review").text
        token = csrf(web, "/app/review")
        done = web.post(
            f"/app/review/attribution/{signal_id}",
            data={"csrf_token": token, "account": "C-9"},
            headers={"HX-Request": "true"},
        )
        assert done.status_code == 200 and "is now on <strong>Widgets Nordic AB</strong>" in done.text
        stored = web.get(f"/v1/signals/{signal_id}", headers=auth).json()
        assert stored["status"] == "attributed" and stored["account"]["crm_id"] == "C-9"
        assert stored["attribution"]["evidence"]["assigned_by"] == "web:sara.ek@ourco.se"
        assert f'id="review-{signal_id}"' not in web.get("/app/review").text

    def test_a_contributor_sees_no_one_elses_waiting_signal_or_opportunity(
        self, web: TestClient, engine: sa.Engine, auth: dict[str, str]
    ) -> None:
        _import(web, auth)
        opp = web.post("/v1/signals", json=signal_body(customer={"name": "Widgets Nordic"}), headers=auth).json()
        waiting = _waiting(web, auth)
        sign_in(web, engine, "per.lind@ourco.se", "contributor")
        assert 'href="/app/review"' not in web.get("/app").text
        assert waiting not in web.get("/app/review").text  # the API's rule: a bound principal's own queue only
        page = web.get(f"/app/opportunities/{opp['opportunity']['id']}")
        assert page.status_code == 404 and "text/html" in page.headers["content-type"]

    def test_an_unknown_account_is_answered_in_place_and_changes_nothing(
        self, web: TestClient, engine: sa.Engine, auth: dict[str, str]
    ) -> None:
        signal_id = _waiting(web, auth)
        sign_in(web, engine, "sara.ek@ourco.se", "seller")
        answer = web.post(
            f"/app/review/attribution/{signal_id}",
            data={"csrf_token": csrf(web, "/app/review"), "account": "NO-SUCH"},
            headers={"HX-Request": "true"},
        )
        assert 'role="alert"' in answer.text
        assert web.get(f"/v1/signals/{signal_id}", headers=auth).json()["status"] == "needs_review"


class TestInsights:
    def test_only_roles_with_reports_read_see_insights(self, web: TestClient, engine: sa.Engine) -> None:
        sign_in(web, engine, "per.lind@ourco.se", "contributor")
        assert web.get("/app/insights").status_code == 403
        assert web.get("/app/insights/participation.csv").status_code == 403

    def test_each_report_is_a_chart_and_a_table_and_the_csv_honours_the_filters(
        self, web: TestClient, engine: sa.Engine, auth: dict[str, str]
    ) -> None:
        _import(web, auth)
        for email, function in (("a@ourco.se", "support"), ("b@ourco.se", "delivery")):
            body = signal_body(
                contributor={"email": email, "function": function},
                customer={"name": "Widgets Nordic"},
                title=f"Need from {function}",
                value={"amount": 1000, "currency": "SEK"},
            )
            assert web.post("/v1/signals", json=body, headers=auth).status_code == 201
        sign_in(web, engine, "ulla@ourco.se", "analyst")
        reports_current(web)
        shell = web.get("/app/insights?function=support")
        assert shell.status_code == 200
        assert shell.text.count('hx-trigger="load"') == 6
        block = web.get("/app/insights/credit-by-function?function=support", headers={"HX-Request": "true"}).text
        assert 'data-chart="chart-credit-by-function"' in block and "<table" in block
        spec = re.search(r'data-chart="chart-credit-by-function">([^<]+)</script>', block)
        assert spec is not None and '"labels": ["support"]' in spec.group(1).replace("&#34;", '"')
        rows = list(csv.DictReader(io.StringIO(web.get("/app/insights/credit-by-function.csv?function=support").text)))
        assert [r["key"] for r in rows] == ["support"]
        everyone = web.get("/app/insights/credit-by-person.csv").text
        assert len(list(csv.DictReader(io.StringIO(everyone)))) == 2
