"""Recognition statements (GET /v1/reports/recognition[/team]) and the adoption report (GET /v1/reports/adoption),
over the hand-computable dataset of ``test_reports_data``."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pypdf import PdfReader

from app.reports import facts
from schemas.recognition import StatementLine
from tests.api.test_reports_data import Dataset, build
from tests.conftest import KeyFactory

PERIOD = {"from": "2025-01-01", "to": "2025-03-31"}
MODELS = ("originator", "equal", "time_weighted")


@pytest.fixture
def data(engine: sa.Engine) -> Dataset:
    built = build(engine)
    facts.refresh(engine, wait=True)  # what the background refresh does (report requests only read)
    return built


def statement(client: TestClient, auth: dict[str, str], who: str, **params: str) -> dict[str, Any]:
    r = client.get("/v1/reports/recognition", params={"contributor": who, **PERIOD, **params}, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


class TestRecognition:
    @pytest.mark.parametrize("person", ["ann", "bob", "cat"])
    def test_credit_totals_equal_the_credit_reports_for_the_same_period(
        self, client: TestClient, auth: dict[str, str], data: Dataset, person: str
    ) -> None:
        s = statement(client, auth, data.emails[person])
        for model in MODELS:
            r = client.get("/v1/reports/credit", params={**PERIOD, "credit": model}, headers=auth)
            (row,) = [x for x in r.json()["rows"] if x["key"] == str(data.people[person])]
            got = s["credit"][model]
            assert (got["credits"], got["originated"]) == (row["credits"], row["originated"])
            assert (got["pipeline_value"], got["won_value"]) == (row["pipeline_value"], row["won_value"])

    def test_the_lines_add_up_to_the_totals(self, client: TestClient, auth: dict[str, str], data: Dataset) -> None:
        s = statement(client, auth, data.emails["ann"])
        assert len(s["opportunities"]) == s["credit"]["originator"]["credits"] == 3
        for model in MODELS:
            by_status: dict[str, Decimal] = {"open": Decimal(0), "won": Decimal(0)}
            for line in s["opportunities"]:
                if line["status"] in by_status and line["currency"] == "SEK":
                    by_status[line["status"]] += Decimal(line[f"credit_{model}"])
            assert by_status["open"] == Decimal(s["credit"][model]["pipeline_value"])
            assert by_status["won"] == Decimal(s["credit"][model]["won_value"])

    def test_what_became_of_each_and_the_sellers_note(
        self, client: TestClient, auth: dict[str, str], data: Dataset
    ) -> None:
        s = statement(client, auth, data.emails["ann"])
        lines = {line["title"]: line for line in s["opportunities"]}
        assert (lines["opp1 title"]["status"], lines["opp1 title"]["note"]) == ("won", "Signed, thanks!")
        assert lines["opp1 title"]["role"] == "originator" and lines["opp3 title"]["role"] == "co_contributor"
        # Equal shares of opp1's 1000.00 among three: the originator takes the remainder.
        assert lines["opp1 title"]["credit_equal"] == "333.34"
        assert [x["title"] for x in s["signals"]] == ["opp3 seen by ann", "opp2 seen by ann", "opp1 seen by ann"]

    def test_participation_is_compared_with_the_functions_median(
        self, client: TestClient, auth: dict[str, str], data: Dataset
    ) -> None:
        p = statement(client, auth, data.emails["cat"])["participation"]
        # cat (sales) reported three signals; the only sales person who reported is cat.
        assert p == {"signals": 3, "function": "sales", "function_median_signals": 3.0, "function_contributors": 1}

    def test_csv_has_one_row_per_credited_opportunity(
        self, client: TestClient, auth: dict[str, str], data: Dataset
    ) -> None:
        r = client.get(
            "/v1/reports/recognition",
            params={"contributor": data.emails["bob"], **PERIOD, "format": "csv"},
            headers=auth,
        )
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert list(rows[0]) == list(StatementLine.model_fields)
        assert sorted(x["title"] for x in rows) == ["opp1 title", "opp3 title"]

    def test_the_pdf_is_a_pdf_with_the_name_and_the_totals(
        self, client: TestClient, auth: dict[str, str], data: Dataset
    ) -> None:
        s = statement(client, auth, data.emails["ann"])
        r = client.get(
            "/v1/reports/recognition",
            params={"contributor": data.emails["ann"], **PERIOD, "format": "pdf"},
            headers=auth,
        )
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.content.startswith(b"%PDF-")
        text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages).split())
        assert "Ann Lindqvist" in text
        assert "Signed, thanks!" in text
        tw = s["credit"]["time_weighted"]
        for value in (tw["won_value"], tw["pipeline_value"], s["credit"]["equal"]["won_value"]):
            shown = f"{Decimal(value):,.2f}".replace(",", " ")
            assert shown in text, shown

    def test_the_html_page_is_the_same_template(self, client: TestClient, auth: dict[str, str], data: Dataset) -> None:
        r = client.get(
            "/v1/reports/recognition",
            params={"contributor": data.emails["ann"], **PERIOD, "format": "html"},
            headers=auth,
        )
        assert r.headers["content-type"].startswith("text/html")
        assert "<h1>Recognition statement</h1>" in r.text and "Ann Lindqvist" in r.text

    def test_a_key_bound_to_a_contributor_reads_only_their_own(
        self, client: TestClient, make_key: KeyFactory, data: Dataset
    ) -> None:
        own = {"Authorization": f"Bearer {make_key('reports:read', contributor_id=data.people['ann'])}"}
        assert statement(client, own, data.emails["ann"])["contributor"]["name"] == "Ann Lindqvist"
        r = client.get("/v1/reports/recognition", params={"contributor": data.emails["bob"]}, headers=own)
        assert r.status_code == 404
        assert client.get("/v1/reports/recognition/team", params={"team": "L2"}, headers=own).status_code == 403

    def test_it_needs_the_reports_scope(self, client: TestClient, make_key: KeyFactory, data: Dataset) -> None:
        headers = {"Authorization": f"Bearer {make_key('signals:read')}"}
        r = client.get("/v1/reports/recognition", params={"contributor": data.emails["ann"]}, headers=headers)
        assert r.status_code == 403

    @pytest.mark.parametrize(
        ("params", "status", "field"),
        [
            ({"contributor": "nobody@ourco.se"}, 404, None),
            ({"contributor": "x" * 255}, 422, "query.contributor"),
            ({"currency": "XXQ"}, 422, "query.currency"),
            ({"from": "2025-03-01", "to": "2025-01-01"}, 422, "query.from"),
            ({"format": "docx"}, 422, "query.format"),
        ],
    )
    def test_bad_requests_are_problems(
        self,
        client: TestClient,
        auth: dict[str, str],
        data: Dataset,
        params: dict[str, str],
        status: int,
        field: str | None,
    ) -> None:
        r = client.get("/v1/reports/recognition", params={"contributor": data.emails["ann"], **params}, headers=auth)
        assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json")
        if field:
            assert field in [e["field"] for e in r.json()["errors"]]


class TestTeamRecognition:
    def test_members_carry_the_numbers_of_their_own_statements(
        self, client: TestClient, auth: dict[str, str], data: Dataset
    ) -> None:
        r = client.get("/v1/reports/recognition/team", params={"team": "D1", **PERIOD}, headers=auth)
        assert r.status_code == 200, r.text
        (row,) = r.json()["rows"]
        s = statement(client, auth, data.emails["bob"])
        assert row["name"] == "Bob Bergström" and row["signals"] == s["participation"]["signals"]
        assert row["won_time_weighted"] == s["credit"]["time_weighted"]["won_value"]
        assert row["pipeline_equal"] == s["credit"]["equal"]["pipeline_value"]
        r = client.get("/v1/reports/recognition/team", params={"team": "D1", **PERIOD, "format": "pdf"}, headers=auth)
        text = " ".join(PdfReader(io.BytesIO(r.content)).pages[0].extract_text().split())
        assert "Bob Bergström" in text

    def test_an_unknown_team_has_no_rows(self, client: TestClient, auth: dict[str, str], data: Dataset) -> None:
        r = client.get("/v1/reports/recognition/team", params={"team": "nobody"}, headers=auth)
        assert r.status_code == 200 and r.json()["rows"] == []


class TestAdoption:
    def test_weekly_activity_share_of_staff_repeat_rate_and_time_to_reaction(
        self, client: TestClient, auth: dict[str, str], data: Dataset
    ) -> None:
        r = client.put(
            "/v1/reports/staff-counts",
            json={"dimension": "function", "counts": {"support": 4, "delivery": 2}},
            headers=auth,
        )
        assert r.status_code == 200
        r = client.get("/v1/reports/adoption", params={"from": "2025-01-01", "to": "2025-02-10"}, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        rows = {(x["week"], x["function"]): x for x in body["rows"]}
        # ann (support) reported on Fri 10 Jan (week of 6 Jan) and again in the weeks of 27 Jan and 3 Feb.
        assert rows[("2025-01-06", "support")]["share_of_staff"] == 0.25
        assert rows[("2025-02-03", "support")]["repeat_contributors"] == 1
        assert rows[("2025-01-13", "sales")]["staff"] is None
        s = body["summary"]
        # ann 3 weeks, bob 2, cat 1 (cat's later signals fall after 10 Feb).
        assert (s["contributors"], s["repeat_rate"]) == (3, 0.6667)
        assert s["last_90_days"]["share_of_staff"] == round(2 / 6, 4)
        # Three opportunities first seen by 10 Feb; opp1 first reacted to after 48 h (its stage change), opp3 after
        # 24 h, opp2 not yet.
        assert (s["opportunities"], s["reacted"], s["median_hours_to_first_reaction"]) == (3, 2, 36.0)

    def test_csv(self, client: TestClient, auth: dict[str, str], data: Dataset) -> None:
        r = client.get("/v1/reports/adoption", params={**PERIOD, "format": "csv"}, headers=auth)
        header = r.text.splitlines()[0]
        assert header == "week,function,active_contributors,staff,share_of_staff,repeat_contributors,repeat_rate"
