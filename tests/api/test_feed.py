"""The contributor's feed: what became of each signal, merges and outcomes included; only one's own."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.db import transaction
from app.opportunities.models import Credit, Opportunity
from app.signals.models import Signal
from tests.api.test_reports_data import Dataset, build
from tests.conftest import KeyFactory


@pytest.fixture
def data(engine: sa.Engine) -> Dataset:
    return build(engine)


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def feed(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> list[dict[str, Any]]:
    r = client.get(path, headers=headers, params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


class TestContributorFeed:
    def test_each_signal_with_account_colleagues_crm_and_outcome(
        self, client: TestClient, auth: dict[str, str], data: Dataset
    ) -> None:
        items = {i["title"]: i for i in feed(client, auth, f"/v1/contributors/{data.people['ann']}/signals")}
        assert set(items) == {"opp1 seen by ann", "opp2 seen by ann", "opp3 seen by ann"}
        won = items["opp1 seen by ann"]
        assert won["account"]["name"] == "Acme AB"
        assert won["opportunity"]["status"] == "won" and won["opportunity"]["note"] == "Signed, thanks!"
        assert won["opportunity"]["my_role"] == "originator"
        assert [(c["name"], c["role"]) for c in won["colleagues"]] == [
            ("Bob Bergström", "co_contributor"),
            ("Catarina Ek", "co_contributor"),
        ]
        assert "email" not in won["colleagues"][0]
        lost = items["opp3 seen by ann"]
        assert lost["opportunity"]["my_role"] == "co_contributor"
        assert [(c["name"], c["role"]) for c in lost["colleagues"]] == [("Bob Bergström", "originator")]
        assert items["opp2 seen by ann"]["colleagues"] == []

    def test_by_email_and_paged_newest_first(self, client: TestClient, auth: dict[str, str], data: Dataset) -> None:
        first = client.get("/v1/contributors/ann.lind@ourco.se/signals?limit=2", headers=auth).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        rest = feed(client, auth, "/v1/contributors/ann.lind@ourco.se/signals", cursor=first["next_cursor"])
        ids = [i["signal_id"] for i in first["items"] + rest]
        assert ids == sorted(ids, reverse=True) and len(ids) == 3

    def test_a_signal_waiting_for_review_has_no_opportunity_yet(
        self, client: TestClient, auth: dict[str, str], data: Dataset
    ) -> None:
        items = feed(client, auth, f"/v1/contributors/{data.people['cat']}/signals")
        review = next(i for i in items if i["status"] == "needs_review")
        assert review["account"] is None and review["opportunity"] is None

    def test_the_feed_follows_an_opportunity_merge(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, data: Dataset
    ) -> None:
        # opp4 (cat) is merged into opp2 (ann): the survivor gets cat's credit; the loser points at it.
        with transaction(engine) as session:
            loser = session.get(Opportunity, data.opps["opp4"])
            assert loser is not None
            loser.merged_into_id = data.opps["opp2"]
            session.add(loser)
            [signal_id] = [s for s in data.signals["cat"] if session.get(Signal, s).opportunity_id == loser.id]  # type: ignore[union-attr]
            session.add(
                Credit(
                    opportunity_id=data.opps["opp2"],
                    contributor_id=data.people["cat"],
                    role="co_contributor",
                    first_signal_id=signal_id,
                    first_observed_at=session.get(Signal, signal_id).observed_at,  # type: ignore[union-attr]
                )
            )
        cat = {i["signal_id"]: i for i in feed(client, auth, f"/v1/contributors/{data.people['cat']}/signals")}
        merged = cat[str(signal_id)]
        assert merged["opportunity"]["id"] == str(data.opps["opp2"])
        assert [c["name"] for c in merged["colleagues"]] == ["Ann Lindqvist"]
        ann = feed(client, auth, f"/v1/contributors/{data.people['ann']}/signals")
        on_opp2 = next(i for i in ann if i["opportunity"]["id"] == str(data.opps["opp2"]))
        assert [c["name"] for c in on_opp2["colleagues"]] == ["Catarina Ek"]

    def test_the_feed_reflects_a_new_outcome(self, client: TestClient, auth: dict[str, str], data: Dataset) -> None:
        r = client.post(
            f"/v1/opportunities/{data.opps['opp2']}/outcome",
            json={"status": "not_pursued", "stage": "closedlost", "note": "Budget went to another project."},
            headers=auth,
        )
        assert r.status_code == 200, r.text
        items = feed(client, auth, f"/v1/contributors/{data.people['ann']}/signals")
        opp2 = next(i for i in items if i["opportunity"]["id"] == str(data.opps["opp2"]))["opportunity"]
        assert (opp2["status"], opp2["stage"], opp2["note"]) == (
            "not_pursued",
            "closedlost",
            "Budget went to another project.",
        )
        assert opp2["closed_at"] is not None and opp2["stage_changed_at"] is not None


class TestOwnFeedOnly:
    def test_me_returns_the_bound_contributors_feed(
        self, client: TestClient, make_key: KeyFactory, data: Dataset
    ) -> None:
        key = bearer(make_key("signals:read", contributor_id=data.people["bob"]))
        items = feed(client, key, "/v1/me/signals")
        assert {i["title"] for i in items} == {"opp1 seen by bob", "opp3 seen by bob"}

    @pytest.mark.parametrize("ref", ["id", "email"])
    def test_a_bound_key_never_reads_another_feed(
        self, client: TestClient, make_key: KeyFactory, data: Dataset, ref: str
    ) -> None:
        key = bearer(make_key("signals:read", contributor_id=data.people["bob"]))
        other = str(data.people["ann"]) if ref == "id" else data.emails["ann"]
        for path in (f"/v1/contributors/{other}/signals", f"/v1/contributors/{other}"):
            r = client.get(path, headers=key)
            assert r.status_code == 404, path
            assert r.json()["code"] == "not_found"
        assert client.get(f"/v1/contributors/{data.people['bob']}/signals", headers=key).status_code == 200

    def test_another_persons_feed_looks_like_an_unknown_person(
        self, client: TestClient, make_key: KeyFactory, data: Dataset
    ) -> None:
        key = bearer(make_key("signals:read", contributor_id=data.people["bob"]))
        foreign = client.get(f"/v1/contributors/{data.people['ann']}/signals", headers=key)
        unknown = client.get("/v1/contributors/nobody@ourco.se/signals", headers=key)
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json()["detail"] == unknown.json()["detail"]

    def test_me_needs_a_bound_key(self, client: TestClient, auth: dict[str, str]) -> None:
        assert client.get("/v1/me/signals", headers=auth).status_code == 404

    def test_feed_needs_authentication(self, client: TestClient, data: Dataset) -> None:
        assert client.get(f"/v1/contributors/{data.people['ann']}/signals").status_code == 401
        assert client.get("/v1/me/signals").status_code == 401
