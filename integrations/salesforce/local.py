"""The Salesforce sandbox (integrations/sandbox/salesforce*.py) standalone, for ``signal-pipeline sandbox``.

It is served over TLS with a throwaway CA (simple-salesforce only speaks https), so it runs beside the service
rather than inside it. Imported only when asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serve(host: str, demo: bool) -> Iterator[list[str]]:
    """The sandbox on a free port of ``host`` in a background thread, for the ``with`` block."""
    from integrations.sandbox.salesforce_server import run_salesforce_sandbox

    with run_salesforce_sandbox(host=host) as sf:
        yield [f"Salesforce sandbox  {sf.base_url}  (TLS; trust the CA in {sf.ca_file})"]
