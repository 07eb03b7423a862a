"""The account directory: import (JSON and CSV, upsert by CRM id, a result per row), search, lookup."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts.directory import (
    SNAPSHOT_AFTER,
    changed_since,
    current_version,
    load_index,
    read_snapshot,
    write_snapshot,
)
from app.accounts.models import AccountIndexSnapshot
from app.attribution import AccountEntry
from app.core.settings import Settings
from app.main import create_app
from tests.api.helpers import row_counts
from tests.conftest import signal_body

NORDKRAFT = {"crm_id": "A-1", "name": "Nordkraft AB", "domains": ["nordkraft.se"], "aliases": ["NK"], "country": "se"}


class TestImport:
    def test_json_upsert_by_crm_id(self, client: TestClient, auth: dict[str, str]) -> None:
        first = client.post("/v1/accounts/import", json={"accounts": [NORDKRAFT]}, headers=auth)
        assert first.status_code == 200, first.text
        assert first.json()["results"][0]["status"] == "created"
        again = client.post("/v1/accounts/import", json={"accounts": [NORDKRAFT]}, headers=auth).json()
        assert again["results"][0]["status"] == "unchanged"
        renamed = client.post(
            "/v1/accounts/import", json={"accounts": [{**NORDKRAFT, "name": "Nordkraft Energi AB"}]}, headers=auth
        ).json()
        assert renamed["results"][0]["status"] == "updated"
        got = client.get("/v1/accounts/A-1", headers=auth).json()
        assert (got["name"], got["country"], got["domains"]) == ("Nordkraft Energi AB", "SE", ["nordkraft.se"])

    def test_one_import_creates_updates_and_repeats_rows_in_one_directory_version(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        client.post("/v1/accounts/import", json={"accounts": [NORDKRAFT]}, headers=auth)
        with Session(engine) as session:
            before = current_version(session)
        rows = [
            {"crm_id": "A-2", "name": "Ekvall AB"},
            {**NORDKRAFT, "aliases": ["NK", "Nordkraften"]},
            {"crm_id": "A-2", "name": "Ekvall Bygg AB", "domains": ["ekvall.se"]},  # the same new row again
            NORDKRAFT,
        ]
        got = client.post("/v1/accounts/import", json={"accounts": rows}, headers=auth).json()
        assert [r["status"] for r in got["results"]] == ["created", "updated", "updated", "updated"]
        assert (got["created"], got["updated"]) == (1, 3)
        assert got["results"][0]["id"] == got["results"][2]["id"]
        with Session(engine) as session:
            assert current_version(session) == before + 1
            changed = {e.crm_id: e for e in changed_since(session, before)}
        assert set(changed) == {"A-1", "A-2"}
        assert (changed["A-2"].name, changed["A-2"].domains) == ("Ekvall Bygg AB", ("ekvall.se",))
        assert changed["A-1"].aliases == ("NK",)  # the last row of an account wins
        ekvall = client.get("/v1/accounts/A-2", headers=auth).json()
        assert ekvall["id"] == got["results"][0]["id"] and ekvall["name"] == "Ekvall Bygg AB"

    def test_a_bad_row_rejects_only_itself(self, client: TestClient, auth: dict[str, str], engine: sa.Engine) -> None:
        rows = [NORDKRAFT, {"crm_id": "A-2"}, {"crm_id": "A-3", "name": "Ekvall", "domains": ["not a domain"]}]
        got = client.post("/v1/accounts/import", json={"accounts": rows}, headers=auth).json()
        assert [r["status"] for r in got["results"]] == ["created", "rejected", "rejected"]
        assert got["results"][1]["errors"][0]["field"] == "name"
        assert got["results"][2]["errors"][0]["field"].startswith("domains")
        assert row_counts(engine)["accounts"] == 1

    def test_csv_body_and_upload(self, client: TestClient, auth: dict[str, str]) -> None:
        csv_text = "crm_id,name,domains,aliases\nC-1,Granholm Bygg AB,granholmbygg.se;granholm.se,Granholms\n"
        r = client.post("/v1/accounts/import", content=csv_text, headers={**auth, "content-type": "text/csv"})
        assert r.status_code == 200 and r.json()["created"] == 1
        got = client.get("/v1/accounts/C-1", headers=auth).json()
        assert got["domains"] == ["granholmbygg.se", "granholm.se"] and got["aliases"] == ["Granholms"]
        upload = client.post(
            "/v1/accounts/import",
            files={"file": ("a.csv", "crm_id,name\nC-2,Skifte AB\n", "text/csv")},
            headers=auth,
        )
        assert upload.status_code == 200 and upload.json()["created"] == 1

    def test_csv_without_header_is_422(self, client: TestClient, auth: dict[str, str]) -> None:
        r = client.post("/v1/accounts/import", content="x,y\n1,2\n", headers={**auth, "content-type": "text/csv"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"

    def test_import_needs_admin(self, client: TestClient, make_key: object) -> None:
        key = make_key("signals:write", "signals:read")  # type: ignore[operator]
        r = client.post(
            "/v1/accounts/import", json={"accounts": [NORDKRAFT]}, headers={"Authorization": f"Bearer {key}"}
        )
        assert r.status_code == 403

    def test_imported_accounts_attribute_at_once(self, client: TestClient, auth: dict[str, str]) -> None:
        client.post("/v1/accounts/import", json={"accounts": [NORDKRAFT]}, headers=auth)
        signal = client.post(
            "/v1/signals", json=signal_body(customer={"email": "lena@nordkraft.se"}), headers=auth
        ).json()
        assert signal["account"]["crm_id"] == "A-1"
        assert signal["attribution"]["method"] == "email_domain"


class TestSearch:
    def test_by_name_alias_and_domain(self, client: TestClient, auth: dict[str, str]) -> None:
        client.post("/v1/accounts/import", json={"accounts": [NORDKRAFT]}, headers=auth)
        for q in ("nordkraft", "NK", "nordkraft.se", "A-1"):
            items = client.get("/v1/accounts", params={"q": q}, headers=auth).json()["items"]
            assert [a["crm_id"] for a in items] == ["A-1"], q
        assert client.get("/v1/accounts", params={"q": "volvo"}, headers=auth).json()["items"] == []


class TestDirectoryAcrossProcesses:
    """Every API process holds the directory in memory and catches up with the rows changed since its version."""

    def test_the_importing_process_sees_its_change_at_once(self, client: TestClient, auth: dict[str, str]) -> None:
        client.post("/v1/accounts/import", json={"accounts": [NORDKRAFT]}, headers=auth)
        renamed = {**NORDKRAFT, "name": "Skifte Energi AB", "domains": ["skifte.se"], "aliases": []}
        client.post("/v1/accounts/import", json={"accounts": [renamed]}, headers=auth)
        signal = client.post("/v1/signals", json=signal_body(customer={"name": "Skifte Energi"}), headers=auth).json()
        assert signal["account"]["crm_id"] == "A-1"
        old = client.post("/v1/signals", json=signal_body(customer={"email": "x@nordkraft.se"}), headers=auth).json()
        assert old["account"] is None  # the old domain left the index with the change

    def test_another_process_catches_up(self, settings: Settings, client: TestClient, auth: dict[str, str]) -> None:
        other = create_app(settings)  # a second process: its own directory over the same database
        with TestClient(other) as second:
            assert second.post("/v1/signals", json=signal_body(), headers=auth).json()["account"] is None
            client.post("/v1/accounts/import", json={"accounts": [NORDKRAFT]}, headers=auth)
            version = other.state.directory.version
            seen = second.post("/v1/signals", json=signal_body(), headers=auth).json()
            assert seen["account"]["crm_id"] == "A-1"
            assert other.state.directory.version > version
            client.post("/v1/accounts/import", json={"accounts": [{**NORDKRAFT, "domains": ["nk.se"]}]}, headers=auth)
            moved = second.post("/v1/signals", json=signal_body(customer={"email": "a@nk.se"}), headers=auth).json()
            assert moved["account"]["crm_id"] == "A-1"

    def test_catching_up_reads_only_the_changed_rows(self, client: TestClient, auth: dict[str, str]) -> None:
        rows = [{"crm_id": f"B-{i}", "name": f"Bolag {i} AB"} for i in range(20)]
        client.post("/v1/accounts/import", json={"accounts": rows}, headers=auth)
        app = client.app
        engine = app.state.engine  # type: ignore[attr-defined]
        directory = app.state.directory  # type: ignore[attr-defined]
        before = directory.version
        client.post("/v1/accounts/import", json={"accounts": [{**rows[3], "name": "Bolag Tre AB"}]}, headers=auth)
        with Session(engine) as session:
            assert [e.crm_id for e in changed_since(session, before)] == ["B-3"]
            assert current_version(session) == directory.version == before + 1

    def test_a_new_process_starts_from_the_snapshot_and_catches_up(
        self, settings: Settings, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        client.post("/v1/accounts/import", json={"accounts": [NORDKRAFT]}, headers=auth)
        with Session(engine) as session:
            at = current_version(session)
            index = load_index(session)
        # A marker only the snapshot has, to tell a start from the snapshot from a build from the rows.
        index.upsert(AccountEntry(id=str(uuid.uuid4()), crm_id="GHOST", name="Ghost Snapshot AB"))
        write_snapshot(engine, at, index.dumps())
        client.post("/v1/accounts/import", json={"accounts": [{"crm_id": "A-2", "name": "Ekvall AB"}]}, headers=auth)
        fresh = create_app(settings)
        fresh.state.directory.refresh(engine)
        with Session(engine) as session, fresh.state.directory.reading(session) as seen:
            assert {seen.by_crm_id(c) is not None for c in ("A-1", "A-2", "GHOST")} == {True}

    def test_a_process_that_built_the_index_writes_a_snapshot(self, client: TestClient, auth: dict[str, str]) -> None:
        client.post("/v1/accounts/import", json={"accounts": [NORDKRAFT]}, headers=auth)
        other = create_app(client.app.state.settings)  # type: ignore[attr-defined]
        engine = other.state.engine
        with Session(engine) as session:
            session.execute(sa.delete(AccountIndexSnapshot))
            session.commit()
        other.state.directory.snapshot_from = 0  # any size: a real directory needs thousands to be worth one
        other.state.directory.refresh(engine)
        other.state.directory.close()  # the snapshot is written in the background
        with Session(engine) as session:
            got = read_snapshot(session)
            assert got is not None and got[0] == other.state.directory.version
            assert got[1].by_crm_id("A-1") is not None

    def test_after_a_large_change_a_snapshot_is_written_once_the_directory_is_quiet(
        self, client: TestClient, auth: dict[str, str], engine: sa.Engine
    ) -> None:
        directory = client.app.state.directory  # type: ignore[attr-defined]
        directory.snapshot_from = 0
        with Session(engine) as session:
            session.execute(sa.delete(AccountIndexSnapshot))
            session.commit()
        rows = [{"crm_id": f"Q-{i}", "name": f"Kvarnen {i} AB"} for i in range(SNAPSHOT_AFTER)]
        client.post("/v1/accounts/import", json={"accounts": rows}, headers=auth)
        directory.close()  # stops waiting for quiet: writes what is due now
        with Session(engine) as session:
            got = read_snapshot(session)
        assert got is not None and got[0] == directory.version
        assert got[1].by_crm_id(f"Q-{SNAPSHOT_AFTER - 1}") is not None

    def test_not_ready_until_the_directory_is_loaded(self, app: FastAPI, auth: dict[str, str]) -> None:
        bare = TestClient(app)  # no lifespan: nothing loaded the directory yet
        r = bare.get("/readyz")
        assert r.status_code == 503 and r.json()["code"] == "warming_up"
        app.state.directory.refresh(app.state.engine)
        assert bare.get("/readyz").status_code == 200
