"""The layer order, checked on the source: app -> integrations -> schemas, features never reach into another
feature's router, and app/ reaches vendors only through the registry. Read from the AST, so it fails in CI the
moment an import runs the wrong way, whatever imports happen to run in a test."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from integrations import registry

ROOT = Path(__file__).resolve().parents[2]
# Modules that assemble the application from every feature's router.
COMPOSITION_ROOTS = {"app.main", "app.openapi"}
# What app/ may import from integrations/: the interfaces (CRM, capture), the outbound URL guard and the registry,
# never a vendor or a sandbox.
VENDOR_NEUTRAL = {
    "integrations",
    "integrations.base",
    "integrations.capture",
    "integrations.outbound",
    "integrations.registry",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" not in path.parts:
            yield module_name(path), path


def imports(path: Path) -> Iterator[tuple[int, str]]:
    return imports_in(path.read_text(), str(path))


def imports_in(source: str, filename: str = "<source>") -> Iterator[tuple[int, str]]:
    """(line, module) for every absolute import; ``from a import b`` yields ``a`` and ``a.b``."""
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(package: str, forbidden: str) -> list[str]:
    return [
        f"{name}:{line} imports {target}"
        for name, path in sources(package)
        for line, target in imports(path)
        if under(target, forbidden)
    ]


def feature_of(module: str) -> str | None:
    """``app.signals.service`` -> ``signals``; None for top-level app modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "app" else None


def is_router(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last == "router" or last.endswith("_router")


def test_schemas_import_neither_app_nor_integrations() -> None:
    assert violations("schemas", "app") + violations("schemas", "integrations") == []


def test_integrations_never_import_app() -> None:
    assert violations("integrations", "app") == []


def test_app_reaches_vendors_only_through_the_registry() -> None:
    bad = [
        f"{name}:{line} imports {target}"
        for name, path in sources("app")
        for line, target in imports(path)
        if under(target, "integrations") and target not in VENDOR_NEUTRAL and not _names_in(target, VENDOR_NEUTRAL)
    ]
    assert bad == []


def _names_in(target: str, modules: set[str]) -> bool:
    # ``from integrations.base import CRMAdapter`` also yields ``integrations.base.CRMAdapter``: a name, not a module.
    parent = target.rsplit(".", 1)[0]
    return parent in modules and parent != "integrations"


def test_features_never_import_another_features_router() -> None:
    bad = []
    for name, path in sources("app"):
        if name in COMPOSITION_ROOTS:
            continue
        for line, target in imports(path):
            own, theirs = feature_of(name), feature_of(target)
            if under(target, "app") and is_router(target) and theirs is not None and theirs != own:
                bad.append(f"{name}:{line} imports {target}")
    assert bad == []


# Vendor names that are also words of this product's own domain ("teams" of contributors): for those, app/ may
# use the word, and only the vendor's package and settings names are forbidden.
DOMAIN_WORDS = {"teams"}


@pytest.mark.parametrize("vendor", registry.names("crm") + registry.names("capture"))
def test_app_names_no_vendor(vendor: str) -> None:
    if vendor in DOMAIN_WORDS:
        forms = [f"integrations.{vendor}", f"SIGNAL_PIPELINE_{vendor.upper()}_", f"integrations/{vendor}"]
        pattern = re.compile("|".join(re.escape(form) for form in forms), re.IGNORECASE)
    else:
        pattern = re.compile(re.escape(vendor), re.IGNORECASE)
    named = [str(path.relative_to(ROOT)) for _, path in sources("app") if pattern.search(path.read_text())]
    assert named == []


def test_the_checks_see_wrong_imports() -> None:
    # Guards the checker itself: each of these lines would be reported in the package it is forbidden in.
    found = {target for _, target in imports_in("from app.signals import router\nimport integrations.hubspot\n")}
    assert "app.signals.router" in found and "integrations.hubspot" in found
    assert is_router("app.signals.router") and feature_of("app.signals.router") == "signals"
    assert is_router("app.opportunities.outcomes_router") and not is_router("app.signals.service")
    assert not _names_in("integrations.hubspot", VENDOR_NEUTRAL) and _names_in(
        "integrations.base.CRMAdapter", VENDOR_NEUTRAL
    )
