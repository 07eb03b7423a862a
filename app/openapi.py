"""The committed OpenAPI document is rendered from the code by this function (and checked fresh by a test)."""

from __future__ import annotations

import json

from app.core.settings import Settings
from app.main import create_app


def render() -> str:
    app = create_app(Settings(database_url="sqlite://"))
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
