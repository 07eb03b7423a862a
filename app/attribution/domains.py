"""E-mail and web domains: registrable domain (public-suffix aware, offline) and mail-provider lists.

A signal's e-mail address or web domain names the customer only when the domain is the customer's own:
free-mail, disposable and Nordic ISP mail domains never attribute. Lists ship as package data.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from importlib import resources

import tldextract

_MAIL_PROVIDER_FILES = ("free_email_domains.txt", "disposable_email_domains.txt", "nordic_isp_domains.txt")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


@cache
def _extractor() -> tldextract.TLDExtract:
    # The bundled public-suffix snapshot only: no network, no cache directory.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@cache
def mail_provider_domains() -> frozenset[str]:
    """Every free-mail, disposable and ISP mail domain in the shipped lists."""
    out: set[str] = set()
    for name in _MAIL_PROVIDER_FILES:
        text = resources.files("app.attribution").joinpath(f"data/{name}").read_text("utf-8")
        out.update(line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#")
    return frozenset(out)


_PLAIN_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+")
_IPV4 = re.compile(r"[0-9]+(?:\.[0-9]+){3}")


def host_of(value: str) -> str | None:
    """The host named by an e-mail address, URL or bare domain, lower-cased; None if there is none."""
    if _PLAIN_HOST.fullmatch(value) and not value.startswith("www."):
        return value  # a bare lower-case domain, as directories store them: nothing to take off
    v = value.strip().lower()
    if not v:
        return None
    if "@" in v and not _SCHEME.match(v):
        v = v.rsplit("@", 1)[1]
    v = _SCHEME.sub("", v)
    v = v.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in v:  # user-info in a URL
        v = v.rsplit("@", 1)[1]
    v = v.split(":", 1)[0].strip(".").strip()
    if v.startswith("www."):
        v = v[4:]
    if not v or "." not in v or " " in v:
        return None
    try:
        v = v.encode("idna").decode("ascii") if not v.isascii() else v
    except UnicodeError:
        return None
    return v


@lru_cache(maxsize=100_000)
def registrable_domain(host: str) -> str | None:
    """The registrable domain of a host ("hr.se.torsvik.com" -> "torsvik.com", "x.bbc.co.uk" -> "bbc.co.uk")."""
    ext = _extractor()(host)
    if ext.suffix and ext.domain:
        return f"{ext.domain}.{ext.suffix}"
    if ext.suffix or _IPV4.fullmatch(host):
        return None  # a bare public suffix ("co.uk") or an IP address names no organisation
    # A top-level domain outside the public-suffix list: the reserved names of RFC 2606/6761 (".example",
    # ".test") that demo and test directories use, or a private intranet one (".corp", ".internal").
    # The organisation is the label before it, as under any single-label public suffix.
    labels = host.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 and all(labels[-2:]) else None


def domain_chain(host: str) -> list[str]:
    """The host and its parents down to the registrable domain, most specific first."""
    reg = registrable_domain(host)
    if reg is None:
        return []
    labels = host.split(".")
    chain = []
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        chain.append(candidate)
        if candidate == reg:
            break
    return chain if chain and chain[-1] == reg else [reg]


def is_mail_provider(host: str) -> bool:
    """True when the host or any parent domain of it is a free-mail, disposable or ISP mail domain."""
    providers = mail_provider_domains()
    rest = host
    while rest.count(".") >= 1:
        if rest in providers:
            return True
        rest = rest.split(".", 1)[1]
    return False
