"""Report figures against the hand-computed dataset in test_reports_data (see its docstring)."""

from __future__ import annotations

import csv
import io
import random
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.accounts.models import Account
from app.contributors.models import Contributor
from app.core.db import transaction
from app.opportunities.models import Credit, Opportunity
from app.reports import facts
from app.signals.models import Signal
from tests.api.helpers import reports_current
from tests.api.test_reports_data import Dataset, at, build
from tests.conftest import KeyFactory

RANGE = {"from": "2025-01-01", "to": "2025-03-31"}


@pytest.fixture
def data(engine: sa.Engine) -> Dataset:
    return build(engine)


@pytest.fixture
def reports(make_key: KeyFactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key('reports:read')}"}


def get(client: TestClient, headers: dict[str, str], report: str, **params: Any) -> dict[str, Any]:
    reports_current(client)
    response = client.get(f"/v1/reports/{report}", params={**RANGE, **params}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_key(rows: list[dict[str, Any]], field: str = "key") -> dict[str, dict[str, Any]]:
    return {r[field]: r for r in rows}


class TestContributions:
    def test_by_contributor_matches_hand_computed_figures(
        self, client: TestClient, reports: dict[str, str], data: Dataset
    ) -> None:
        rows = by_key(get(client, reports, "contributions", group_by="contributor")["rows"])
        ann, bob, cat = (rows[str(data.people[p])] for p in ("ann", "bob", "cat"))
        assert ann["label"] == "Ann Lindqvist"
        assert (ann["signals"], ann["opportunities_originated"], ann["opportunities_co_contributed"]) == (3, 2, 1)
        assert (ann["open_pipeline_value"], ann["won_value"]) == ("500.00", "1000.00")
        assert (ann["won"], ann["lost"], ann["win_rate"]) == (1, 0, 1.0)
        assert ann["median_hours_to_crm"] == 3.0  # opp1 2 h, opp2 4 h
        assert ann["median_hours_to_first_stage_change"] == 48.0  # opp2 has none
        assert (bob["signals"], bob["opportunities_originated"], bob["opportunities_co_contributed"]) == (2, 1, 1)
        assert (bob["open_pipeline_value"], bob["won_value"], bob["win_rate"]) == ("0.00", "0.00", 0.0)
        assert (bob["median_hours_to_crm"], bob["median_hours_to_first_stage_change"]) == (1.0, 24.0)
        assert (cat["signals"], cat["opportunities_originated"], cat["opportunities_co_contributed"]) == (3, 1, 1)
        assert (cat["open_pipeline_value"], cat["win_rate"], cat["median_hours_to_crm"]) == ("400.00", None, None)

    def test_by_function_and_month(self, client: TestClient, reports: dict[str, str], data: Dataset) -> None:
        fn = by_key(get(client, reports, "contributions", group_by="function")["rows"])
        assert {k: v["signals"] for k, v in fn.items()} == {"support": 3, "delivery": 2, "sales": 3}
        month = by_key(get(client, reports, "contributions", group_by="month")["rows"])
        assert {k: v["signals"] for k, v in month.items()} == {"2025-01": 3, "2025-02": 4, "2025-03": 1}
        assert {k: v["opportunities_originated"] for k, v in month.items()} == {
            "2025-01": 1,
            "2025-02": 3,
            "2025-03": 0,
        }
        quarter = by_key(get(client, reports, "contributions", group_by="quarter")["rows"])
        assert quarter["2025-Q1"]["signals"] == 8
        assert quarter["2025-Q1"]["won_value"] == "1000.00"

    def test_by_account_counts_the_review_queue_as_unattributed(
        self, client: TestClient, reports: dict[str, str], data: Dataset
    ) -> None:
        rows = by_key(get(client, reports, "contributions", group_by="account")["rows"])
        assert rows[str(data.accounts["acme"])]["signals"] == 4
        assert rows[str(data.accounts["beta"])]["signals"] == 3
        assert rows[""]["label"] == "unattributed" and rows[""]["signals"] == 1

    def test_range_limits_what_is_counted(self, client: TestClient, reports: dict[str, str], data: Dataset) -> None:
        body = get(client, reports, "contributions", group_by="function", **{"from": "2025-02-01", "to": "2025-02-28"})
        assert {r["key"]: r["signals"] for r in body["rows"]} == {"support": 2, "delivery": 1, "sales": 1}

    def test_outcome_change_shows_in_the_next_report(
        self, client: TestClient, reports: dict[str, str], auth: dict[str, str], data: Dataset
    ) -> None:
        get(client, reports, "contributions")  # facts built
        r = client.post(
            f"/v1/opportunities/{data.opps['opp2']}/outcome",
            json={"status": "won", "amount": "750.00", "currency": "SEK"},
            headers=auth,
        )
        assert r.status_code == 200, r.text
        ann = by_key(get(client, reports, "contributions")["rows"])[str(data.people["ann"])]
        assert (ann["open_pipeline_value"], ann["won_value"], ann["won"]) == ("0.00", "1750.00", 2)


class TestCredit:
    @pytest.mark.parametrize(
        ("model", "won", "pipeline"),
        [
            ("originator", {"ann": "1000.00", "bob": "0.00", "cat": "0.00"}, {"ann": "500.00", "cat": "400.00"}),
            ("equal", {"ann": "333.34", "bob": "333.33", "cat": "333.33"}, {"ann": "500.00", "cat": "400.00"}),
            ("time_weighted", {"ann": "500.01", "bob": "333.33", "cat": "166.66"}, {"ann": "500.00", "cat": "400.00"}),
        ],
    )
    def test_shares_match_hand_computed_figures(
        self,
        client: TestClient,
        reports: dict[str, str],
        data: Dataset,
        model: str,
        won: dict[str, str],
        pipeline: dict[str, str],
    ) -> None:
        rows = by_key(get(client, reports, "credit", credit=model, group_by="contributor")["rows"])
        for person, value in won.items():
            assert rows[str(data.people[person])]["won_value"] == value, (model, person)
        for person in ("ann", "bob", "cat"):
            assert rows[str(data.people[person])]["pipeline_value"] == pipeline.get(person, "0.00")

    @pytest.mark.parametrize("model", ["originator", "equal", "time_weighted"])
    def test_rows_sum_to_the_opportunity_values(
        self, client: TestClient, reports: dict[str, str], data: Dataset, model: str
    ) -> None:
        for group_by in ("contributor", "function", "team", "account", "month"):
            rows = get(client, reports, "credit", credit=model, group_by=group_by)["rows"]
            assert sum(Decimal(r["won_value"]) for r in rows) == Decimal("1000.00")
            assert sum(Decimal(r["pipeline_value"]) for r in rows) == Decimal("900.00")

    def test_other_currencies_are_not_summed_in_but_every_contributor_is_listed(
        self, client: TestClient, reports: dict[str, str], data: Dataset
    ) -> None:
        in_sek = get(client, reports, "credit")["rows"]
        in_eur = get(client, reports, "credit", currency="EUR")["rows"]
        assert {r["key"]: r["credits"] for r in in_eur} == {r["key"]: r["credits"] for r in in_sek}
        assert {(r["pipeline_value"], r["won_value"]) for r in in_eur} == {("0.00", "0.00")}


class TestCreditConservation:
    def test_every_model_conserves_value_over_many_random_opportunities(self, engine: sa.Engine) -> None:
        rng = random.Random(7)
        with transaction(engine) as session:
            account = Account(crm_id="x", name="X AB")
            people = [Contributor(email=f"p{i}@ourco.se", function="support") for i in range(9)]
            session.add_all([account, *people])
            session.flush()
            for o in range(60):
                n = rng.randint(1, 9)
                amount = Decimal(rng.randint(0, 10**9)) / 100
                opp = Opportunity(
                    account_id=account.id,
                    title=f"o{o}",
                    first_seen_at=at(1, 1),
                    last_seen_at=at(1, 2),
                    amount=amount,
                    currency="SEK",
                )
                session.add(opp)
                session.flush()
                for rank, person in enumerate(rng.sample(people, n)):
                    s = Signal(
                        contributor_id=person.id,
                        account_id=account.id,
                        opportunity_id=opp.id,
                        kind="other",
                        title="t",
                        body="b",
                        observed_at=at(1, 1, 1 + rank),
                        source_system="t",
                        source_reference=f"{o}-{rank}",
                    )
                    session.add(s)
                    session.flush()
                    session.add(
                        Credit(
                            opportunity_id=opp.id,
                            contributor_id=person.id,
                            role="originator" if rank == 0 else "co_contributor",
                            first_signal_id=s.id,
                            first_observed_at=s.observed_at,
                        )
                    )
        facts.refresh(engine, full=True)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT f.opportunity_id, MAX(f.value_cents) AS v, SUM(f.originator_cents) AS o, "
                    "SUM(f.equal_cents) AS e, SUM(f.time_weighted_cents) AS tw, COUNT(*) AS n, "
                    "MIN(f.time_weighted_cents) AS tmin, "
                    "MAX(CASE WHEN f.rank = 1 THEN f.time_weighted_cents END) AS t1 "
                    "FROM report_credit_facts f GROUP BY f.opportunity_id"
                )
            ).all()
        assert len(rows) == 60
        for row in rows:
            assert row.v == row.o == row.e == row.tw, row
            assert row.t1 >= row.tmin  # the earliest observer weighs most


class TestParticipation:
    def test_monthly_by_function_with_staff_counts(
        self, client: TestClient, reports: dict[str, str], auth: dict[str, str], data: Dataset
    ) -> None:
        r = client.put(
            "/v1/reports/staff-counts",
            json={"dimension": "function", "counts": {"support": 10, "delivery": 4}},
            headers=auth,
        )
        assert r.status_code == 200, r.text
        body = get(client, reports, "participation", by="function", interval="month")
        rows = {(x["period"], x["group"]): x for x in body["rows"]}
        assert set(rows) == {
            ("2025-01-01", "support"),
            ("2025-01-01", "delivery"),
            ("2025-01-01", "sales"),
            ("2025-02-01", "support"),
            ("2025-02-01", "delivery"),
            ("2025-02-01", "sales"),
            ("2025-03-01", "sales"),
        }
        jan, feb = rows[("2025-01-01", "support")], rows[("2025-02-01", "support")]
        assert (jan["active_contributors"], jan["staff"], jan["share_contributing"]) == (1, 10, 0.1)
        assert (jan["repeat_contributors"], jan["new_contributors"], jan["trend"]) == (0, 1, None)
        assert (feb["repeat_contributors"], feb["new_contributors"], feb["trend"]) == (1, 0, 0)
        assert rows[("2025-02-01", "delivery")]["share_contributing"] == 0.25
        assert rows[("2025-03-01", "sales")]["staff"] is None
        summary = body["summary"]
        assert summary["distinct_contributors"] == 3
        # originated: opp1 1000 + opp2 500 (ann) + opp3 100.01 (bob) + opp4 400 (cat, sales)
        assert (summary["originated_value"], summary["non_sales_originated_value"]) == ("2000.01", "1600.01")
        assert summary["non_sales_share"] == 0.8

    def test_weekly_periods_start_on_monday(self, client: TestClient, reports: dict[str, str], data: Dataset) -> None:
        rows = get(client, reports, "participation", by="team", interval="week")["rows"]
        # 2025-01-10 is a Friday and 01-12 a Sunday: both in the week of Monday 2025-01-06; 01-15 is in the next.
        weeks = {(r["period"], r["group"]) for r in rows if r["period"] < "2025-01-20"}
        assert weeks == {("2025-01-06", "L2"), ("2025-01-06", "D1"), ("2025-01-13", "S1")}


class TestConcentration:
    def test_accounts_that_hang_on_one_person(self, client: TestClient, reports: dict[str, str], data: Dataset) -> None:
        rows = by_key(get(client, reports, "concentration", credit="equal")["rows"], "account_id")
        acme, beta = rows[str(data.accounts["acme"])], rows[str(data.accounts["beta"])]
        # acme: opp1 won 1000 split 333.34/333.33/333.33 + opp2 open 500 to ann → ann 833.34 of 1500.00
        assert (acme["contributors"], acme["pipeline_value"], acme["won_value"]) == (3, "500.00", "1000.00")
        assert acme["top_contributor_id"] == str(data.people["ann"])
        assert acme["top_contributor_share"] == 0.5556 and acme["depends_on_one_person"] is False
        # beta: opp3 lost (no value), opp4 open 400 all cat
        assert (beta["contributors"], beta["top_contributor_id"]) == (3, str(data.people["cat"]))
        assert beta["top_contributor_share"] == 1.0 and beta["depends_on_one_person"] is True
        only = get(client, reports, "concentration", credit="equal", only_dependent="true")["rows"]
        assert [r["account_id"] for r in only] == [str(data.accounts["beta"])]


class TestAgeing:
    def test_open_opportunities_without_a_stage_change_by_owner_and_team(
        self, client: TestClient, reports: dict[str, str], data: Dataset
    ) -> None:
        rows = get(client, reports, "ageing", sla_days=14)["rows"]
        assert {(r["owner"], r["team"], r["opportunities"], r["signals"]) for r in rows} == {
            ("o1@ourco.se", "L2", 1, 1),
            ("o2@ourco.se", "S1", 1, 1),
        }
        assert all(r["oldest_waiting_days"] > 200 for r in rows)

    def test_a_stage_change_stops_the_clock(
        self, client: TestClient, reports: dict[str, str], auth: dict[str, str], data: Dataset
    ) -> None:
        r = client.post(
            f"/v1/opportunities/{data.opps['opp4']}/outcome", json={"status": "open", "stage": "proposal"}, headers=auth
        )
        assert r.status_code == 200, r.text
        rows = get(client, reports, "ageing", sla_days=14)["rows"]
        assert [(r["owner"], r["team"]) for r in rows] == [("o1@ourco.se", "L2")]


class TestFormats:
    @pytest.mark.parametrize(
        ("report", "params"),
        [
            ("contributions", {"group_by": "contributor"}),
            ("contributions", {"group_by": "month"}),
            ("credit", {"credit": "time_weighted", "group_by": "team"}),
            ("participation", {"by": "function", "interval": "week"}),
            ("concentration", {"credit": "equal"}),
            ("ageing", {"sla_days": 7}),
        ],
    )
    def test_csv_and_json_agree(
        self, client: TestClient, reports: dict[str, str], data: Dataset, report: str, params: dict[str, str]
    ) -> None:
        rows = get(client, reports, report, **params)["rows"]
        assert rows
        reports_current(client)
        r = client.get(f"/v1/reports/{report}", params={**RANGE, **params, "format": "csv"}, headers=reports)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        parsed = list(csv.DictReader(io.StringIO(r.text)))
        assert list(parsed[0]) == list(rows[0])
        as_text = [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]
        assert parsed == as_text


class TestLimits:
    def test_a_range_over_three_years_is_rejected(self, client: TestClient, reports: dict[str, str]) -> None:
        r = client.get("/v1/reports/contributions", params={"from": "2021-01-01", "to": "2024-12-31"}, headers=reports)
        assert r.status_code == 422
        assert r.json()["errors"][0]["code"] == "range_too_long"
        ok = client.get("/v1/reports/contributions", params={"from": "2022-01-01", "to": "2024-12-31"}, headers=reports)
        assert ok.status_code == 200

    def test_reversed_range_and_bad_currency_are_rejected(self, client: TestClient, reports: dict[str, str]) -> None:
        r = client.get("/v1/reports/credit", params={"from": "2025-02-01", "to": "2025-01-01"}, headers=reports)
        assert r.status_code == 422
        r = client.get("/v1/reports/credit", params={"currency": "XXQ"}, headers=reports)
        assert r.status_code == 422

    def test_reports_need_the_reports_scope(self, client: TestClient, make_key: KeyFactory) -> None:
        headers = {"Authorization": f"Bearer {make_key('signals:read')}"}
        for report in ("contributions", "credit", "participation", "concentration", "ageing"):
            assert client.get(f"/v1/reports/{report}", headers=headers).status_code == 403

    def test_staff_counts_import_needs_admin(self, client: TestClient, reports: dict[str, str]) -> None:
        r = client.put("/v1/reports/staff-counts", json={"dimension": "team", "counts": {"L2": 5}}, headers=reports)
        assert r.status_code == 403


def test_csv_of_an_empty_report_still_has_its_header(client: TestClient, make_key: KeyFactory) -> None:
    headers = {"Authorization": f"Bearer {make_key('reports:read')}"}
    r = client.get("/v1/reports/credit", params={"format": "csv", "group_by": "team"}, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    header = r.text.splitlines()
    assert len(header) == 1 and header[0].startswith("key,")
