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
