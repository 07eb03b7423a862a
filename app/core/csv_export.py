"""Every CSV the service writes for people: one writer, formula cells neutralised.

A spreadsheet (Excel, LibreOffice Calc, Google Sheets) runs a cell that begins with = + - @, a tab or a carriage
return as a formula, so a contributor named '=HYPERLINK("https://evil.example","click")' would become a live link
in whoever opens the export. The OWASP rule (https://owasp.org/www-community/attacks/CSV_Injection): prefix such
a cell with a single quote, which the spreadsheet takes as "this is text", and quote every field that needs it
(RFC 4180; the csv module does). Numbers are left as numbers: '-12.5' is a value, not a formula, and a quote
would turn it into text in the reader's sheet.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")


def safe_cell(value: Any) -> Any:
    """The value as a CSV cell: None empty, text that a spreadsheet would evaluate prefixed with a '."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def to_csv(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    """The rows as CSV: ``columns`` as the header (also when there are no rows), each cell through ``safe_cell``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: safe_cell(v) for k, v in row.items()})
    return out.getvalue()
