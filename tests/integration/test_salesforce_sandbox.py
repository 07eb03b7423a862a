"""Wire behaviour of the Salesforce sandbox that the adapter tests do not reach, via real simple-salesforce."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from integrations.salesforce import SalesforceHttpSession
from integrations.sandbox.control import Fault, FaultKind
from integrations.sandbox.salesforce_server import (
    HttpSalesforceControl,
    RunningSalesforceSandbox,
    run_salesforce_sandbox,
)

V = "/services/data/v62.0"
EXT = "Signal_Pipeline_Id__c"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSalesforceSandbox]:
    with run_salesforce_sandbox() as sb:
        yield sb


@pytest.fixture
def sf(sandbox: RunningSalesforceSandbox) -> Salesforce:
    sandbox.state.reset()
    session = SalesforceHttpSession(5.0, sandbox.ca_file)
    return Salesforce(
        session_id=sandbox.state.issue_token(), instance_url=sandbox.base_url, session=session, version="62.0"
    )


def opp(ext: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Opportunity"}, EXT: ext, **fields}


FULL = {"Name": "n", "StageName": "Prospecting", "CloseDate": "2026-01-31"}


def test_create_without_required_fields_is_required_field_missing(sf: Salesforce) -> None:
    [result] = sf.restful(f"composite/sobjects/Opportunity/{EXT}", method="PATCH", json={"records": [opp("a")]})
    assert result["success"] is False
    assert result["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert result["errors"][0]["fields"] == ["Name", "StageName", "CloseDate"]


def test_upsert_reports_created_then_updated(sf: Salesforce) -> None:
    path = f"composite/sobjects/Opportunity/{EXT}"
    [first] = sf.restful(path, method="PATCH", json={"records": [opp("a", **FULL)]})
    [second] = sf.restful(path, method="PATCH", json={"records": [opp("a", Name="m")]})
    assert (first["created"], second["created"], first["id"]) == (True, False, second["id"])


def test_more_than_200_records_is_rejected_whole(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful(
            f"composite/sobjects/Opportunity/{EXT}", method="PATCH", json={"records": [opp(str(i)) for i in range(201)]}
        )
    assert err.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_upsert_on_a_field_that_is_not_an_external_id_is_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("composite/sobjects/Opportunity/Name", method="PATCH", json={"records": [opp("a")]})


def test_create_with_an_existing_external_id_is_duplicate_value(sf: Salesforce) -> None:
    sf.restful("composite/sobjects", method="POST", json={"records": [opp("a", **FULL)]})
    [dup] = sf.restful("composite/sobjects", method="POST", json={"records": [opp("a", **FULL)]})
    assert dup["errors"][0]["statusCode"] == "DUPLICATE_VALUE"


def test_all_or_none_rolls_back_every_record(sf: Salesforce, sandbox: RunningSalesforceSandbox) -> None:
    body = {"allOrNone": True, "records": [opp("a", **FULL), opp("b")]}
    results = sf.restful("composite/sobjects", method="POST", json=body)
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sandbox.state.opportunities() == []


def test_every_response_carries_sforce_limit_info_even_401(sandbox: RunningSalesforceSandbox) -> None:
    sandbox.state.reset()
    url = f"{sandbox.base_url}{V}/query"
    ok = requests.get(
        url,
        params={"q": "SELECT Id FROM User"},
        headers={"Authorization": "Bearer " + sandbox.state.issue_token()},
        verify=sandbox.ca_file,
        timeout=5,
    )
    bad = requests.get(
        url,
        params={"q": "SELECT Id FROM User"},
        headers={"Authorization": "Bearer nope"},
        verify=sandbox.ca_file,
        timeout=5,
    )
    assert ok.headers["Sforce-Limit-Info"].startswith("api-usage=")
    assert bad.status_code == 401 and bad.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert "Sforce-Limit-Info" in bad.headers


def test_expired_session_fault_really_revokes_the_token(sf: Salesforce, sandbox: RunningSalesforceSandbox) -> None:
    sandbox.state.add_fault(Fault(FaultKind.expired_session))
    for _ in range(2):
        with pytest.raises(SalesforceExpiredSession):
            sf.query("SELECT Id FROM User")


def test_malformed_soql_is_malformed_query(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Id FROM User WHERE Email = 'a' OR Email = 'b'")
    assert err.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_bad_client_secret_is_refused_at_the_token_endpoint(sandbox: RunningSalesforceSandbox) -> None:
    response = requests.post(
        f"{sandbox.base_url}/services/oauth2/token",
        data={"grant_type": "password", "client_id": "x", "client_secret": "y", "username": "u", "password": "p"},
        verify=sandbox.ca_file,
        timeout=5,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_client_id"


def test_http_control_drives_the_sandbox_from_another_process(
    sandbox: RunningSalesforceSandbox, sf: Salesforce
) -> None:
    control = HttpSalesforceControl(sandbox.base_url, verify=sandbox.ca_file)
    account = control.seed_account("Acme", "acme.com", "owner@acme.com")
    [made] = sf.restful(
        f"composite/sobjects/Opportunity/{EXT}", method="PATCH", json={"records": [opp("a", AccountId=account, **FULL)]}
    )
    control.set_stage(made["id"], "Closed Won", amount=10)
    [listed] = control.opportunities()
    assert (listed.opportunity_id, listed.account_crm_id, listed.properties["IsWon"]) == ("a", account, True)
    control.add_fault(Fault(FaultKind.server_error, status=503))
    with pytest.raises(Exception) as err:
        sf.query("SELECT Id FROM User")
    assert getattr(err.value, "status", None) == 503
    assert control.call_count(f"{V}/query") == 1
    control.reset()
    assert control.opportunities() == []
