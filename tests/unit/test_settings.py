"""A wrong or missing setting stops the start with the variable's name and what is wrong."""

from __future__ import annotations

import pytest

from app.core.settings import SettingsError, load_settings


def test_bad_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNAL_PIPELINE_DATABASE_URL", "mysql://nope")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "SIGNAL_PIPELINE_DATABASE_URL" in str(err.value) and "sqlite" in str(err.value)


def test_bad_number_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNAL_PIPELINE_MAX_BODY_BYTES", "lots")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "SIGNAL_PIPELINE_MAX_BODY_BYTES" in str(err.value)


def test_half_configured_crm_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNAL_PIPELINE_CRM", "hubspot")
    monkeypatch.setenv("SIGNAL_PIPELINE_HUBSPOT_BASE_URL", "https://api.hubapi.com")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "SIGNAL_PIPELINE_HUBSPOT_ACCESS_TOKEN" in str(err.value)


def test_defaults_are_the_embedded_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNAL_PIPELINE_DATABASE_URL", raising=False)
    assert load_settings().database_url.startswith("sqlite:///")


def test_unknown_crm_is_refused_naming_the_registered_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNAL_PIPELINE_CRM", "pipedrive")
    with pytest.raises(SettingsError) as err:
        load_settings()
    text = str(err.value)
    assert "SIGNAL_PIPELINE_CRM" in text and "hubspot" in text and "salesforce" in text


def test_a_bad_vendor_value_names_the_vendors_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNAL_PIPELINE_CRM", "hubspot")
    monkeypatch.setenv("SIGNAL_PIPELINE_HUBSPOT_BASE_URL", "https://api.hubapi.com")
    monkeypatch.setenv("SIGNAL_PIPELINE_HUBSPOT_ACCESS_TOKEN", "pat-secret-value")
    monkeypatch.setenv("SIGNAL_PIPELINE_HUBSPOT_RATE_LIMIT", "0")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "SIGNAL_PIPELINE_HUBSPOT_RATE_LIMIT" in str(err.value) and "pat-secret-value" not in str(err.value)


def test_each_crm_declares_its_own_rate_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNAL_PIPELINE_CRM", "salesforce")
    monkeypatch.setenv("SIGNAL_PIPELINE_SALESFORCE_CLIENT_ID", "3MVG9")
    monkeypatch.setenv("SIGNAL_PIPELINE_SALESFORCE_CLIENT_SECRET", "s")
    monkeypatch.setenv("SIGNAL_PIPELINE_SALESFORCE_RATE_LIMIT", "7")
    settings = load_settings()
    assert settings.crm_settings is not None
    assert (settings.crm_settings.rate_limit, settings.crm_settings.rate_window_seconds) == (7, 1.0)
