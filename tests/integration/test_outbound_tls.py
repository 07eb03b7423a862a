"""The guarded client connects to the address it checked and still verifies TLS against the URL's host name.

A real TLS server on loopback with a certificate from a throwaway CA (trustme) for ``hooks.test``, a name only the
test's resolver knows: the request can reach it only through the pinned address, and only with SNI and certificate
checks done for ``hooks.test``.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import trustme

from integrations.outbound import OutboundPolicy, guarded_client
from tests.conftest import Resolver

LOCAL = OutboundPolicy(allow_insecure_loopback=True)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_server(ca: trustme.CA, name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = self.headers["Host"].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def hooks_test(ca: trustme.CA) -> Iterator[int]:
    server = tls_server(ca, "hooks.test")
    yield server.server_port
    server.shutdown()
    server.server_close()


def test_https_reaches_the_checked_address_with_sni_and_host_of_the_url(
    resolver: Resolver, client_context: ssl.SSLContext, hooks_test: int
) -> None:
    resolver.table["hooks.test"] = ["127.0.0.1"]
    with guarded_client(LOCAL, verify=client_context) as client:
        r = client.get(f"https://hooks.test:{hooks_test}/")
    assert r.status_code == 200
    assert r.text == f"hooks.test:{hooks_test}"


def test_a_certificate_for_another_name_fails_verification(
    resolver: Resolver, client_context: ssl.SSLContext, hooks_test: int
) -> None:
    resolver.table["other.test"] = ["127.0.0.1"]  # the same address, but the certificate is for hooks.test
    with guarded_client(LOCAL, verify=client_context) as client, pytest.raises(httpx.ConnectError):
        client.get(f"https://other.test:{hooks_test}/")
