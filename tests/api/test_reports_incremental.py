"""The report tables are kept by an incremental refresh that reads the change log the triggers write (migration 0013).
After each kind of write (ingest, review, merge, detach, outcome, sync milestone, function change, erasure) the
incrementally kept tables must hold exactly what a from-scratch build holds; and a report request must not write."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.db import transaction
from app.reports import facts
from app.reports.milestones import record_milestone
from tests.api.helpers import reports_current
from tests.conftest import signal_body

ACCOUNTS = [
    {"crm_id": "A-1", "name": "Nordkraft AB", "domains": ["nordkraft.se"]},
    {"crm_id": "A-2", "name": "Ekvall Försäkring AB", "domains": ["ekvall.se"]},
]
INVOICES = "Their finance team keys in every supplier invoice by hand in the ERP, about 3,000 invoices a month."
INVOICES_2 = "Finance at the customer still types supplier invoices into the ERP manually; roughly 3,000 monthly."
HR = "HR wants a new onboarding portal for seasonal staff, with digital contracts and e-signing."
# Every table a report reads that the refresh writes (the rollups, mirror and durations exist on PostgreSQL only).
TABLES = {
    "report_credit_facts": "credit_id",
    "report_signal_facts": "signal_id",
    "report_rollup_contributor": "axis, month, contributor_id, currency",
    "report_rollup_account": "axis, month, account_id, currency",
    "report_rollup_source_kind": "axis, month, source_system, kind, currency",
    "report_durations": "opportunity_id, metric",
    "report_contributor_dims": "contributor_id",
}


def _post(client: TestClient, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    r = client.post("/v1/signals", json=signal_body(**fields), headers=auth)
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


def _snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables = TABLES if engine.dialect.name == "postgresql" else {"report_credit_facts": TABLES["report_credit_facts"]}
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY {k}"))] for t, k in tables.items()
        }


def _assert_incremental_equals_rebuild(engine: sa.Engine, step: str) -> None:
    facts.refresh(engine, wait=True)
    kept = _snapshot(engine)
    facts.refresh(engine, full=True, wait=True)
    built = _snapshot(engine)
    for table, rows in built.items():
        assert kept[table] == rows, f"{table} after {step}"
    assert kept["report_credit_facts"], step


def test_every_kind_of_write_keeps_the_report_tables_equal_to_a_rebuild(
    client: TestClient, engine: sa.Engine, auth: dict[str, str]
) -> None:
    assert client.post("/v1/accounts/import", json={"accounts": ACCOUNTS}, headers=auth).status_code == 200
    anna = {"email": "anna@ourco.se", "name": "Anna", "function": "support", "team": "L2"}
    per = {"email": "per@ourco.se", "name": "Per", "function": "delivery", "team": "D1"}
    value = {"amount": "120000", "currency": "SEK"}
    a = _post(client, auth, customer={"domain": "nordkraft.se"}, body=INVOICES, title="Invoices by hand",
              observed_at="2026-03-01T10:00:00Z", contributor=anna, value=value)  # fmt: skip
    facts.refresh(engine, full=True, wait=True)  # the tables as a first build leaves them

    # Ingest: a second reporter joins the same opportunity; another opens one; one waits for review.
    _post(client, auth, customer={"name": "Nordkraft"}, body=INVOICES_2, title="Manual supplier invoices",
          observed_at="2026-03-05T10:00:00Z", contributor=per)  # fmt: skip
    euros = {"amount": "5000", "currency": "EUR"}
    b = _post(client, auth, customer={"domain": "nordkraft.se"}, body=HR, title="Onboarding portal",
              observed_at="2026-02-01T10:00:00Z", contributor=per, value=euros)  # fmt: skip
    waiting = _post(client, auth, customer={"name": "Unknown Holding"}, title="Renewal doubts",
                    observed_at="2026-02-10T10:00:00Z", contributor=anna)  # fmt: skip
    assert waiting["status"] == "needs_review"
    _assert_incremental_equals_rebuild(engine, "ingest")

    r = client.post(f"/v1/signals/{waiting['id']}/account", json={"account": "A-2"}, headers=auth)
    assert r.status_code == 200, r.text
    _assert_incremental_equals_rebuild(engine, "review")

    oa, ob = a["opportunity"]["id"], b["opportunity"]["id"]
    r = client.post(f"/v1/opportunities/{oa}/merge", json={"opportunity_id": ob}, headers=auth)
    assert r.status_code == 200, r.text
    _assert_incremental_equals_rebuild(engine, "merge")

    r = client.post(f"/v1/signals/{b['id']}/detach", headers=auth)
    assert r.status_code == 200, r.text
    _assert_incremental_equals_rebuild(engine, "detach")

    won = {"status": "won", "amount": "250000", "currency": "SEK", "stage": "closedwon"}
    assert client.post(f"/v1/opportunities/{oa}/outcome", json=won, headers=auth).status_code == 200
    r = client.post(f"/v1/opportunities/{r.json()['opportunity']['id']}/outcome", json={"status": "open",
                    "stage": "proposal"}, headers=auth)  # fmt: skip
    assert r.status_code == 200, r.text
    _assert_incremental_equals_rebuild(engine, "outcome")

    with transaction(engine) as session:
        record_milestone(session, uuid.UUID(oa), first_synced_at=datetime(2026, 3, 2, tzinfo=UTC))
    _assert_incremental_equals_rebuild(engine, "sync milestone")

    with transaction(engine) as session:
        session.execute(sa.text("UPDATE contributors SET function = 'engineering', team = 'E1' WHERE email = :e"),
                        {"e": per["email"]})  # fmt: skip
    _assert_incremental_equals_rebuild(engine, "function change")

    assert client.delete(f"/v1/contributors/{anna['email']}", headers=auth).status_code == 204
    _assert_incremental_equals_rebuild(engine, "erasure")


def test_a_report_request_writes_nothing(client: TestClient, engine: sa.Engine, auth: dict[str, str]) -> None:
    assert client.post("/v1/accounts/import", json={"accounts": ACCOUNTS}, headers=auth).status_code == 200
    _post(client, auth, customer={"domain": "nordkraft.se"}, observed_at="2026-03-01T10:00:00Z")
    reports_current(client)
    _post(client, auth, customer={"domain": "ekvall.se"}, observed_at="2026-03-02T10:00:00Z")
    before = _snapshot(engine)
    with engine.connect() as conn:
        logged = conn.execute(sa.text("SELECT COUNT(*) FROM report_stale_opportunities")).scalar_one()
    assert logged > 0
    for path in ("contributions", "credit", "participation", "concentration", "ageing", "adoption"):
        r = client.get(f"/v1/reports/{path}", params={"from": "2026-01-01", "to": "2026-03-31"}, headers=auth)
        assert r.status_code == 200, r.text
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM report_stale_opportunities")).scalar_one() == logged
    assert _snapshot(engine) == before  # the second signal shows after the next background refresh, not before
    reports_current(client)
    assert _snapshot(engine) != before
