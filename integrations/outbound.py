"""The guard on URLs the service calls because a user said so (webhook subscriptions): no server-side request forgery.

A URL passes when it is https (plain http only to loopback, and loopback only when the operator allows insecure
webhooks, for local receivers), has no user:password, and every address its host resolves to is a public unicast
one: not loopback, private (RFC 1918, ULA), link-local, multicast, reserved, unspecified, shared (CGNAT), nor a
cloud metadata service, whatever notation the host is written in. The check runs when a URL is accepted and again
before each request; the request then goes to the very address that was checked (``GuardedTransport``), so a DNS
answer that changes between the check and the connect (rebinding) cannot redirect it. Redirects are not followed.

Vendor-neutral: nothing here knows who receives the calls.
"""

from __future__ import annotations

import ipaddress
import socket
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> the IP addresses (as text) a connection to it could reach."""

# Names that answer with a cloud provider's instance metadata (credentials) from inside that cloud, whatever
# they resolve to from here: https://cloud.google.com/compute/docs/metadata/querying-metadata (GCP),
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html (169.254.169.254 and
# fd00:ec2::254), https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service (169.254.169.254).
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")  # the last: Alibaba
)
# Ranges ipaddress's flags do not cover: IPv4 shared address space (RFC 6598) is not "private" to it, and
# addresses that embed an IPv4 address are checked through it.
SHARED = ipaddress.ip_network("100.64.0.0/10")
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

HOST_CHARS = frozenset(string.ascii_lowercase + string.digits + "-._")
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0


class RefusedURL(ValueError):
    """The URL may not be called. ``reason`` never repeats the URL (it may carry credentials)."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


@dataclass(frozen=True)
class OutboundPolicy:
    allow_insecure_loopback: bool = False
    """Local development and tests: http:// and https:// to loopback addresses (only)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as the URL names it: the Host header and the TLS server name
    port: int
    address: IPAddress  # the checked address to connect to


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_resolver: Resolver = system_resolver


def set_resolver(resolver: Resolver | None) -> None:
    """Replace name resolution (tests: a host whose answer changes); ``None`` restores the system's."""
    global _resolver
    _resolver = resolver or system_resolver


def parse_ipv4_any_notation(host: str) -> ipaddress.IPv4Address | None:
    """``host`` as an IPv4 address if it is one in any notation inet_aton(3) accepts (and so getaddrinfo and
    curl would connect to): 1 to 4 parts, each decimal, 0x-hex or 0-octal; 2130706433, 0x7f000001, 0177.0.0.1
    and 127.1 all mean 127.0.0.1. The WHATWG URL standard reads hosts the same way (IPv4 parser)."""
    parts = host.split(".")
    if host.endswith(".") and len(parts) > 1:  # a trailing dot is allowed by both
        parts.pop()
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        if part[:2].lower() == "0x":
            digits = part[2:]
            if digits and not all(c in string.hexdigits for c in digits):
                return None
            values.append(int(digits, 16) if digits else 0)
            continue
        if not part or not part.isascii() or not part.isdigit():
            return None
        base = 8 if len(part) > 1 and part[0] == "0" else 10
        try:
            values.append(int(part, base))
        except ValueError:  # 8 or 9 in an octal part
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = last
    for i, v in enumerate(head):
        number |= v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries and would reach: mapped (::ffff:127.0.0.1), 6to4, Teredo, NAT64
    (64:ff9b::/96, RFC 6052) and the deprecated IPv4-compatible form (::127.0.0.1)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in NAT64) or int(address) >> 32 == 0:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why a connection to ``address`` is refused, or None if it is a public unicast address."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return refusal(embedded)
    for flag, reason in (
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, flag):
            return reason
    if address in SHARED:
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "not a public address"
    return None


def is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _split_host(netloc: str) -> str:
    """The host of ``netloc`` (user info and port removed), lower case, IDNA-encoded; brackets kept on IPv6."""
    host = netloc.rpartition("@")[2]
    host = (host[: host.find("]") + 1] if host.startswith("[") else host.rsplit(":", 1)[0]).lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise RefusedURL("the host is not a valid name", "host_invalid") from None
    if not host.startswith("[") and not all(c in HOST_CHARS for c in host):
        # Percent-escapes and other characters would be read differently by different parsers.
        raise RefusedURL("the host is not a valid name", "host_invalid")
    return host


def _host_address(host: str) -> IPAddress | None:
    """The address ``host`` is written as, if it is a literal (IPv6 in brackets, IPv4 in any notation)."""
    if host.startswith("["):
        try:
            return ipaddress.IPv6Address(host[1:-1].split("%")[0])
        except ValueError:
            raise RefusedURL("the host is not a valid IPv6 address", "host_invalid") from None
    return parse_ipv4_any_notation(host)


def check(url: str, policy: OutboundPolicy) -> Target:
    """Where a request to ``url`` may go, or RefusedURL. Resolves the host; every address it resolves to must
    pass (an attacker's name may answer with a public and a private address)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedURL("not a valid URL", "url_invalid") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise RefusedURL("only https URLs are called", "scheme_not_allowed")
    if "@" in parts.netloc:
        raise RefusedURL("a URL may not carry a user name or password; receivers check the signature", "credentials")
    host = _split_host(parts.netloc)
    if host.strip(".") in ("", "[]"):
        raise RefusedURL("the URL has no host", "host_missing")
    if host.rstrip(".") in METADATA_HOSTS:
        raise RefusedURL("the host is a cloud metadata service", "host_not_allowed")
    if port is None:
        port = 443 if scheme == "https" else 80
    literal = _host_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in _resolver(host.rstrip("."), port)]
        except (OSError, UnicodeError, ValueError):
            addresses = []
        if not addresses:
            raise RefusedURL("the host does not resolve", "host_unresolvable")
    for address in addresses:
        reason = refusal(address)
        if reason is not None and not (policy.allow_insecure_loopback and is_loopback(address)):
            raise RefusedURL(f"the host is (or resolves to) {reason}", "host_not_allowed")
    if scheme == "http" and not (policy.allow_insecure_loopback and all(is_loopback(a) for a in addresses)):
        raise RefusedURL("only https URLs are called (plain http only to loopback, when allowed)", "scheme_not_allowed")
    # An IP literal is named canonically (TLS then checks the certificate's IP addresses); a name as written.
    name = str(literal) if literal is not None else host.rstrip(".")
    return Target(scheme=scheme, host=name, port=port, address=addresses[0])


class GuardedTransport(httpx.BaseTransport):
    """Checks every request's URL with ``check`` and sends it to the address that passed; TLS still verifies the
    URL's host name (httpcore's ``sni_hostname`` extension, https://www.encode.io/httpcore/extensions/). No
    keep-alive: a pooled connection to one address must not carry another host's request."""

    def __init__(self, policy: OutboundPolicy, **transport: Any) -> None:
        self.policy = policy
        self.inner = httpx.HTTPTransport(limits=httpx.Limits(max_keepalive_connections=0), **transport)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = check(str(request.url), self.policy)
        request.url = request.url.copy_with(host=str(target.address))
        request.extensions = {**request.extensions, "sni_hostname": target.host}
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def guarded_client(policy: OutboundPolicy, **transport: Any) -> httpx.Client:
    """An HTTP client for user-supplied URLs: the guard, connect and read timeouts, no redirects."""
    return httpx.Client(
        transport=GuardedTransport(policy, **transport),
        timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        follow_redirects=False,
    )
