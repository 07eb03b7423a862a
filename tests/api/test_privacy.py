"""DELETE /v1/contributors/{id}: personal data is erased from every table; anonymous counts stay."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

from app.contributors.models import Contributor
from app.core.db import transaction
from app.core.tables import IdempotencyRecord
from app.notifications.events import emit
from app.opportunities.models import OpportunityEvent
from app.sync.models import CRMUser
from tests.api.helpers import reports_current
from tests.api.test_reports_data import PEOPLE, Dataset, build
from tests.conftest import KeyFactory

ANN_EMAIL, ANN_NAME = PEOPLE["ann"][0], PEOPLE["ann"][1]


@pytest.fixture
def data(engine: sa.Engine) -> Dataset:
    data = build(engine)
    # Copies of Ann's e-mail and name in places other than her contributor row.
    with transaction(engine) as session:
        session.add(CRMUser(crm="hubspot", crm_id="u1", email=ANN_EMAIL, name=ANN_NAME))
        session.add(
            OpportunityEvent(opportunity_id=data.opps["opp2"], kind="merge", actor=ANN_EMAIL, detail={"by": ANN_NAME})
        )
        session.add(
            IdempotencyRecord(
                api_key_id=_any_key(session),
                key="k1",
                method="POST",
                path="/v1/signals",
                request_hash="h",
                status_code=201,
                response_body={"contributor": {"email": ANN_EMAIL, "name": ANN_NAME}},
            )
        )
        emit(session, "signal.attributed", opportunity_id=data.opps["opp2"], data={"contributor": ANN_EMAIL})
    return data


def _any_key(session: Any) -> Any:
    from app.core.auth import create_key

    key, _raw = create_key(session, "tool", ["signals:write"])
    return key.id


def dump_all(engine: sa.Engine) -> str:
    """Every row of every table as text (JSON-escaped and raw), to search for personal data."""
    parts = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                values = [str(v) for v in row]
                parts.append(" | ".join(values))
                parts.append(json.dumps(values))
    return "\n".join(parts)


class TestErasure:
    def test_no_personal_data_remains_in_any_table(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine, data: Dataset
    ) -> None:
        before = dump_all(engine)
        assert ANN_EMAIL in before and ANN_NAME in before  # the test can fail
        r = client.delete(f"/v1/contributors/{data.people['ann']}", headers=auth)
        assert r.status_code == 204
        after = dump_all(engine)
        for needle in (ANN_EMAIL, ANN_NAME, json.dumps(ANN_NAME)[1:-1]):
            assert needle not in after, needle
        # Others' data is untouched.
        assert PEOPLE["bob"][0] in after and PEOPLE["bob"][1] in after

    def test_anonymous_counts_stay(
        self, client: TestClient, auth: dict[str, str], make_key: KeyFactory, engine: sa.Engine, data: Dataset
    ) -> None:
        reports = {"Authorization": f"Bearer {make_key('reports:read')}"}
        params = {"from": "2025-01-01", "to": "2025-03-31", "group_by": "function"}
        reports_current(client)
        before = client.get("/v1/reports/contributions", params=params, headers=reports).json()["rows"]
        assert client.delete(f"/v1/contributors/{data.emails['ann']}", headers=auth).status_code == 204
        reports_current(client)
        after = client.get("/v1/reports/contributions", params=params, headers=reports).json()["rows"]
        assert after == before
        by_person = client.get(
            "/v1/reports/contributions", params={**params, "group_by": "contributor"}, headers=reports
        ).json()["rows"]
        ann = next(r for r in by_person if r["key"] == str(data.people["ann"]))
        assert ann["label"] is None and ann["signals"] == 3
        with transaction(engine) as session:
            row = session.get(Contributor, data.people["ann"])
            assert row is not None
            assert (row.email, row.name, row.function, row.team) == (None, None, "support", "L2")
            assert row.erased_at is not None

    def test_the_erased_persons_key_stops_working_and_the_feed_shows_no_name(
        self, client: TestClient, auth: dict[str, str], make_key: KeyFactory, data: Dataset
    ) -> None:
        ann_key = {"Authorization": f"Bearer {make_key('signals:read', contributor_id=data.people['ann'])}"}
        assert client.get("/v1/me/signals", headers=ann_key).status_code == 200
        assert client.delete(f"/v1/contributors/{data.people['ann']}", headers=auth).status_code == 204
        client.app.state.key_cache._entries.clear()  # type: ignore[attr-defined]  # skip the 5 s auth cache
        assert client.get("/v1/me/signals", headers=ann_key).status_code == 401
        bob = client.get(f"/v1/contributors/{data.people['bob']}/signals", headers=auth).json()["items"]
        opp1 = next(i for i in bob if i["opportunity"]["id"] == str(data.opps["opp1"]))
        assert [c["name"] for c in opp1["colleagues"] if c["id"] == str(data.people["ann"])] == [None]

    def test_erasure_is_admin_only_and_unknown_people_are_404(
        self, client: TestClient, auth: dict[str, str], make_key: KeyFactory, data: Dataset
    ) -> None:
        reader = {"Authorization": f"Bearer {make_key('signals:read', 'signals:write', 'reports:read')}"}
        assert client.delete(f"/v1/contributors/{data.people['ann']}", headers=reader).status_code == 403
        assert client.delete("/v1/contributors/nobody@ourco.se", headers=auth).status_code == 404

    def test_erasing_twice_is_harmless(self, client: TestClient, auth: dict[str, str], data: Dataset) -> None:
        assert client.delete(f"/v1/contributors/{data.people['ann']}", headers=auth).status_code == 204
        assert client.delete(f"/v1/contributors/{data.people['ann']}", headers=auth).status_code == 204
