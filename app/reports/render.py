"""Statements as HTML pages and as PDF: one Jinja2 template per statement serves both, so the PDF is the page.

PDF rendering uses WeasyPrint (HTML and CSS to PDF, no browser), which needs Pango from the system; see
https://doc.courtbouillon.org/weasyprint/stable/first_steps.html (.ci/run installs the Debian packages).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


def money(value: Decimal | str | None) -> str:
    """1234567.5 as '1 234 567.50' (a thin space would be nicer, but must survive copy and paste)."""
    if value is None:
        return ""
    return f"{Decimal(value):,.2f}".replace(",", " ")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # titles, notes and names are other people's text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["money"] = money
    return env


def html(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


def pdf(page: str) -> bytes:
    """The page as a PDF document."""
    import weasyprint  # imported here: it loads Pango, which only PDF requests need

    document: bytes = weasyprint.HTML(string=page, base_url=str(TEMPLATES)).write_pdf()
    return document
