"""The outbound URL guard on its own: every notation of a forbidden address, the schemes, credentials, and names
whose answers include a forbidden address. No request is sent."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from integrations import outbound
from integrations.outbound import OutboundPolicy, RefusedURL, check, parse_ipv4_any_notation

STRICT = OutboundPolicy()
LOCAL = OutboundPolicy(allow_insecure_loopback=True)

FORBIDDEN = [
    # loopback in every notation inet_aton(3), curl and browsers accept
    "https://127.0.0.1/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0x7F.0.0.1/",
    "https://0177.0.0.1/",
    "https://017700000001/",
    "https://127.1/",
    "https://127.0.1/",
    "https://127.0.0.1./",
    "https://[::1]/",
    "https://[0:0:0:0:0:0:0:1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[::127.0.0.1]/",
    "https://[64:ff9b::127.0.0.1]/",
    "https://[2002:7f00:1::]/",
    # private
    "https://10.0.0.1/",
    "https://012.0.0.1/",
    "https://167772161/",
    "https://172.16.0.1/",
    "https://172.31.255.255/",
    "https://192.168.1.1/",
    "https://0xc0a80101/",
    "https://[::ffff:10.0.0.1]/",
    "https://[fc00::1]/",
    "https://[fd12:3456::1]/",
    # link-local and cloud metadata
    "https://169.254.169.254/latest/meta-data/",
    "https://2852039166/",
    "https://0xa9fea9fe/",
    "https://0251.0376.0251.0376/",
    "https://169.254.43518/",
    "https://[::ffff:169.254.169.254]/",
    "https://[fe80::1]/",
    "https://[fd00:ec2::254]/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://METADATA.GOOGLE.INTERNAL./",
    "https://100.100.100.200/",
    # multicast, reserved, unspecified, shared (CGNAT)
    "https://224.0.0.1/",
    "https://[ff02::1]/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    "https://0.0.0.0/",
    "https://0/",
    "https://[::]/",
    "https://100.64.0.1/",
    "https://100.127.255.254/",
]


@pytest.mark.parametrize("url", FORBIDDEN)
def test_forbidden_addresses_are_refused_in_every_notation(url: str) -> None:
    with pytest.raises(RefusedURL) as refused:
        check(url, STRICT)
    assert refused.value.code == "host_not_allowed"


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1.65535", "10.1.255.255"),
        ("0x0a.0x0.0x0.0x1", "10.0.0.1"),
        ("8.8.8.8", "8.8.8.8"),
        ("0", "0.0.0.0"),
    ],
)
def test_ipv4_notations_read_as_inet_aton_does(text: str, address: str) -> None:
    assert parse_ipv4_any_notation(text) == ipaddress.IPv4Address(address)


@pytest.mark.parametrize("text", ["example.com", "1.2.3.4.5", "256.0.0.1", "0x1g", "08.0.0.1", "1..2", "4294967296"])
def test_names_and_out_of_range_numbers_are_not_ipv4(text: str) -> None:
    assert parse_ipv4_any_notation(text) is None


@pytest.fixture
def names() -> Iterator[dict[str, list[str]]]:
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such name")
        return table[host]

    outbound.set_resolver(resolve)
    yield table
    outbound.set_resolver(None)


def test_a_public_https_url_passes_and_names_the_checked_address(names: dict[str, list[str]]) -> None:
    names["hooks.example.com"] = ["93.184.215.14"]
    target = check("https://hooks.example.com:8443/in", STRICT)
    assert (target.scheme, target.host, target.port, str(target.address)) == (
        "https",
        "hooks.example.com",
        8443,
        "93.184.215.14",
    )


@pytest.mark.parametrize("answers", [["10.0.0.5"], ["93.184.215.14", "127.0.0.1"], ["::1"], ["169.254.169.254"]])
def test_a_name_is_refused_when_any_of_its_addresses_is_forbidden(
    names: dict[str, list[str]], answers: list[str]
) -> None:
    names["rebind.example.com"] = answers
    with pytest.raises(RefusedURL) as refused:
        check("https://rebind.example.com/", STRICT)
    assert refused.value.code == "host_not_allowed"


def test_a_name_that_does_not_resolve_is_refused(names: dict[str, list[str]]) -> None:
    with pytest.raises(RefusedURL) as refused:
        check("https://nowhere.example.com/", STRICT)
    assert refused.value.code == "host_unresolvable"


@pytest.mark.parametrize("url", ["https://user:secret@hooks.example.com/", "https://token@hooks.example.com/"])
def test_credentials_in_the_url_are_refused_without_repeating_them(url: str) -> None:
    with pytest.raises(RefusedURL) as refused:
        check(url, STRICT)
    assert refused.value.code == "credentials"
    assert "secret" not in str(refused.value) and "token" not in str(refused.value)


def test_plain_http_is_refused_even_to_a_public_host(names: dict[str, list[str]]) -> None:
    names["hooks.example.com"] = ["93.184.215.14"]
    for policy in (STRICT, LOCAL):
        with pytest.raises(RefusedURL) as refused:
            check("http://hooks.example.com/", policy)
        assert refused.value.code == "scheme_not_allowed"


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/", "file:///etc/passwd", "gopher://127.0.0.1/"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(RefusedURL):
        check(url, LOCAL)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://[::1]/hook", "https://127.0.0.1/hook"])
def test_loopback_only_when_insecure_webhooks_are_allowed(url: str) -> None:
    with pytest.raises(RefusedURL):
        check(url, STRICT)
    assert check(url, LOCAL).address.is_loopback


def test_allowing_loopback_still_refuses_private_and_metadata_addresses() -> None:
    for url in ("http://10.0.0.1/", "https://169.254.169.254/", "http://[fd00:ec2::254]/", "https://192.168.0.1/"):
        with pytest.raises(RefusedURL):
            check(url, LOCAL)


@pytest.mark.parametrize("url", ["https://exa%6dple.com/", "https://[::1/", "https://[zz::1]/", "https:///path"])
def test_malformed_hosts_are_refused(url: str) -> None:
    with pytest.raises(RefusedURL):
        check(url, STRICT)
