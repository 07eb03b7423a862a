"""Fixtures for the CRM integration tests: each CRM sandbox served over real HTTP, driven by the real client.

``crm_env`` is parametrized over every CRM whose env module imports: HubSpot always, Salesforce when
``tests/integration/salesforce_env.py`` exists. Each yields an object with ``.adapter`` and ``.control``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from tests.integration.hubspot_env import HubSpotEnv, hubspot_env

CRM_ENVS: dict[str, Callable[[], AbstractContextManager[Any]]] = {"hubspot": hubspot_env}
try:
    from tests.integration.salesforce_env import salesforce_env
except ImportError:
    pass
else:
    CRM_ENVS["salesforce"] = salesforce_env


@pytest.fixture(params=sorted(CRM_ENVS))
def crm_env(request: pytest.FixtureRequest) -> Iterator[Any]:
    with CRM_ENVS[request.param]() as env:
        yield env


@pytest.fixture
def hs_env() -> Iterator[HubSpotEnv]:
    with hubspot_env() as env:
        yield env
