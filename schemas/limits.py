"""Every input limit of the service, in one place (the README's "Limits" table is written from this file).

The limits are chosen to fit the real sources of signals and to keep every value inside what the database,
Python's datetime and the CSV reader can represent, so an out-of-range input is a 422 naming the field rather
than an error deep inside the service.
"""

from __future__ import annotations

# JSON request bodies: deeper nesting is refused before any handler parses it (Python's parser would otherwise
# recurse ~1,000 levels and fail with RecursionError). Our own contracts nest at most 4 levels.
MAX_JSON_DEPTH = 32

# Numbers in JSON bodies must survive a round trip through an IEEE double (RFC 7493, I-JSON, section 2.2):
# integers within +/-(2**53 - 1), finite floats, and no non-zero literal that underflows to 0 (1e-400).
MAX_JSON_INTEGER = 2**53 - 1

# Strings. A title holds a ticket summary: Jira allows 255 characters in a summary, the longest of our sources.
MAX_TITLE_CHARS = 255
MAX_TEXT_CHARS = 20_000  # a signal's body, the longest free text we take
MAX_NOTE_CHARS = 2_000  # a seller's note on an outcome

# Dates and times: years outside this range are refused (datetime arithmetic near year 1 or 9999 overflows,
# and no signal, outcome or report is about the 19th century or the 23rd).
EARLIEST_YEAR = 1900
LATEST_YEAR = 2199

# CSV uploads (account import): UTF-8 (a BOM is allowed), no field longer than this many characters.
MAX_CSV_FIELD_CHARS = 20_000
CSV_ENCODING = "utf-8-sig"
