"""Render the README's recognition statement picture: the test dataset in a fresh SQLite database, the statement
as PDF through the API, its first page as PNG (pdftoppm, from Debian's poppler-utils).

    PYTHONPATH=. .venv/bin/python docs/screenshots/render_recognition.py
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from app.core.auth import create_key
from app.core.db import transaction
from app.core.migrate import upgrade
from app.core.settings import Settings
from app.main import create_app
from tests.api.test_reports_data import build

HERE = Path(__file__).parent


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        upgrade(url)
        app = create_app(Settings(database_url=url, log_format="text"))
        data = build(app.state.engine)
        with transaction(app.state.engine) as session:
            _key, raw = create_key(session, "screenshot", ["reports:read"])
        with TestClient(app) as client:
            r = client.get(
                "/v1/reports/recognition",
                params={"contributor": data.emails["ann"], "from": "2025-01-01", "to": "2025-03-31", "format": "pdf"},
                headers={"Authorization": f"Bearer {raw}"},
            )
            r.raise_for_status()
        pdf = Path(tmp) / "recognition.pdf"
        pdf.write_bytes(r.content)
        subprocess.run(  # noqa: S603
            ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(HERE / "recognition")],  # noqa: S607
            check=True,
        )
    print(HERE / "recognition.png")


if __name__ == "__main__":
    main()
