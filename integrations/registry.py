"""The one place the service finds a vendor.

Every vendor package under ``integrations/`` (the CRMs, the capture tools) registers one :class:`Vendor` when it
is imported; ``app/`` asks this registry for "the CRM named X" or "the capture source named X" and talks to the
interface it gets back, never to a vendor module. Adding a vendor is one new package plus its tests.

A vendor declares its own settings model (a pydantic-settings class reading ``SIGNAL_PIPELINE_<NAME>_*``), so
the core settings carry only the vendor's *name*; everything the vendor knows (URLs, limits, error codes,
signature rules, payload shapes, set-up steps) stays in its package.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

VendorKind = Literal["crm", "capture"]

# Packages under integrations/ that are not vendors.
_NOT_VENDORS = frozenset({"sandbox", "base", "registry"})


@dataclass(frozen=True)
class LocalSandbox:
    """A vendor's local wire-faithful server: the newcomer's first run and ``signal-pipeline sandbox``.

    ``serve(host, demo)`` runs it standalone in the background for the ``with`` block and yields lines saying
    how to reach it. A sandbox that can also run inside the service's own process gives
    ``embed(settings, webhook_url)`` (an ASGI app, seeded and set up so the first sync succeeds; with a
    ``webhook_url`` it posts its signed change notifications there) and ``environment(base_url)`` (the
    vendor's variables that point the vendor at the sandbox mounted at ``base_url``). ``set_stage(url,
    record_id, stage, amount)`` moves a record as a seller would (``url`` None: the configured sandbox);
    it raises ValueError with the sandbox's answer when refused.
    """

    serve: Callable[[str, bool], AbstractContextManager[list[str]]]
    embed: Callable[[Any, str | None], Any] | None = None
    environment: Callable[[str], dict[str, str]] | None = None
    set_stage: Callable[[str | None, str, str, float | None], None] | None = None


@dataclass(frozen=True)
class Vendor:
    """What a vendor package tells the service about itself.

    ``settings_model`` reads the vendor's own environment variables; ``build`` turns an instance of it into the
    object app/ talks to (a ``CRMAdapter`` for kind "crm", a capture source for kind "capture").
    """

    kind: VendorKind
    name: str
    settings_model: type[BaseModel]
    build: Callable[[Any], Any]
    description: str = ""
    # The vendor's local wire-faithful sandbox, if it has one: given the URL it will be mounted at, returns the
    # ASGI app and an instance of ``settings_model`` pointing the vendor's client at it (`make run` mounts them).
    sandbox: Callable[[str], tuple[Any, BaseModel]] | None = None
    # A CRM's local sandbox (standalone, embedded in `serve`, moving records as a seller would).
    local_sandbox: LocalSandbox | None = None


class UnknownVendor(LookupError):
    """No vendor of that kind and name is registered; the message lists the ones that are."""


_vendors: dict[tuple[VendorKind, str], Vendor] = {}
_loaded = False


def register(vendor: Vendor) -> Vendor:
    """Register ``vendor`` (called by the vendor package's ``__init__``); registering twice is an error."""
    key = (vendor.kind, vendor.name)
    existing = _vendors.get(key)
    if existing is not None and existing is not vendor:
        raise ValueError(f"{vendor.kind} vendor {vendor.name!r} is registered twice")
    _vendors[key] = vendor
    return vendor


def load_all() -> None:
    """Import every vendor package once, so each registers itself (app/ never imports one by name)."""
    global _loaded
    if _loaded:
        return
    import integrations

    for module in pkgutil.iter_modules(integrations.__path__):
        if module.ispkg and module.name not in _NOT_VENDORS:
            importlib.import_module(f"integrations.{module.name}")
    _loaded = True


def get(kind: VendorKind, name: str) -> Vendor:
    """The registered vendor ``name`` of ``kind``; :class:`UnknownVendor` names the choices otherwise."""
    load_all()
    try:
        return _vendors[(kind, name)]
    except KeyError:
        known = ", ".join(names(kind)) or "none"
        raise UnknownVendor(f"no {kind} vendor named {name!r} (known: {known})") from None


def embeddable(kind: VendorKind) -> list[str]:
    """Names of the vendors of ``kind`` whose sandbox can run inside the service, sorted."""
    load_all()
    return sorted(
        name for (k, name), v in _vendors.items() if k == kind and v.local_sandbox is not None and v.local_sandbox.embed
    )


def names(kind: VendorKind) -> list[str]:
    """Names of the registered vendors of ``kind``, sorted."""
    load_all()
    return sorted(name for k, name in _vendors if k == kind)
