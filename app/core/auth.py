"""API keys: ``sp_<prefix>_<secret>``, stored as SHA-256 hashes, shown once, carrying scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.errors import Forbidden, Unauthorized
from app.core.ratelimit import Quota, limit_request_async
from app.core.tables import ApiKey
from app.core.timeutil import utcnow


class Scope(StrEnum):
    """What a key may do. A key bound to a contributor acts for that person only: ``contributor_id`` narrows every
    read to their own data (others' objects answer 404), whatever its scopes, except where a ``:any``/``:all``
    scope says otherwise. Keys themselves are managed with the command line only (``signal-pipeline keys``)."""

    signals_write = "signals:write"  # report signals as the key's own contributor; assign, detach, merge, outcome
    signals_write_any = "signals:write:any"  # trusted integrations: report in anyone's name
    signals_read = "signals:read"  # signals, opportunities, feeds, review queue, mandates, routing rules
    contributors_write = "contributors:write"  # change a contributor's name, team and function
    reports_read = "reports:read"  # reports; a bound key reads only its own recognition statement
    reports_read_all = "reports:read:all"  # company-wide reports also for a key bound to a contributor
    accounts_read = "accounts:read"  # the account directory
    accounts_write = "accounts:write"  # import accounts
    sync_read = "sync:read"  # CRM sync status
    sync_write = "sync:write"  # replay dead sync jobs
    admin = "admin"  # everything above, plus subscriptions, mandates, routing rules, staff counts, erasure


# A scope that includes another: reporting in anyone's name includes reporting in one's own.
IMPLIES: dict[str, frozenset[str]] = {Scope.signals_write_any.value: frozenset({Scope.signals_write.value})}


class ContributorNotAllowed(Forbidden):
    code = "contributor_not_allowed"


@dataclass(frozen=True)
class Principal:
    key_id: uuid.UUID
    name: str
    scopes: frozenset[str]
    contributor_id: uuid.UUID | None

    def has(self, scope: Scope) -> bool:
        if Scope.admin.value in self.scopes or scope.value in self.scopes:
            return True
        return any(scope.value in IMPLIES.get(held, ()) for held in self.scopes)

    @property
    def bound(self) -> bool:
        return self.contributor_id is not None

    def sees(self, contributor_id: uuid.UUID | None) -> bool:
        """Whether this principal may see data of ``contributor_id``: unbound, or bound to that very person."""
        return self.contributor_id is None or self.contributor_id == contributor_id

    def may_post_as(self, contributor_id: uuid.UUID | None) -> bool:
        """Reporting in someone's name: anyone's with signals:write:any, else only the key's own contributor (an
        unbound key has none: it needs signals:write:any; ``None`` is a person not yet known)."""
        return self.has(Scope.signals_write_any) or (self.bound and self.contributor_id == contributor_id)

    def reads_company_reports(self) -> bool:
        """Company-wide reports (everyone's numbers): reports:read on an unbound key, or reports:read:all."""
        return self.has(Scope.reports_read_all) or (self.has(Scope.reports_read) and not self.bound)


def check_company_reports(principal: Principal) -> None:
    if not principal.reads_company_reports():
        raise Forbidden(
            "a key bound to a contributor reads only that person's recognition statement; company-wide reports "
            "need an unbound key with reports:read, or reports:read:all",
            required_scope=Scope.reports_read_all.value,
        )


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh (full key, prefix). The prefix finds the row; the hash proves the secret."""
    prefix = secrets.token_hex(6)
    return f"sp_{prefix}_{secrets.token_urlsafe(32)}", prefix


def create_key(
    session: Session, name: str, scopes: list[str], contributor_id: uuid.UUID | None = None
) -> tuple[ApiKey, str]:
    raw, prefix = new_key()
    key = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=hash_key(raw),
        scopes=sorted(set(scopes)),
        contributor_id=contributor_id,
    )
    session.add(key)
    session.flush()
    return key, raw


class KeyCache:
    """Verified keys for a few seconds, so a request does not pay a query for auth. Revocation lags by ``ttl``."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, raw: str) -> tuple[bool, Principal | None]:
        """(True, the answer) when a fresh answer for ``raw`` is cached; (False, None) when it must be loaded."""
        with self._lock:
            hit = self._entries.get(hash_key(raw))
        if hit and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def load(self, engine: Engine, raw: str) -> Principal | None:
        """Read ``raw``'s key from the database (after ``cached`` missed) and cache the answer."""
        digest = hash_key(raw)
        now = time.monotonic()
        principal = self._read(engine, raw, digest)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (now + self.ttl, principal)
        return principal

    @staticmethod
    def _read(engine: Engine, raw: str, digest: str) -> Principal | None:
        parts = raw.split("_")
        if len(parts) < 3 or parts[0] != "sp":
            return None
        with Session(engine) as session:
            key = session.exec(select(ApiKey).where(ApiKey.prefix == parts[1])).first()
        if key is None or key.revoked_at is not None or not hmac.compare_digest(key.key_hash, digest):
            return None
        return Principal(key.id, key.name, frozenset(key.scopes), key.contributor_id)


def revoke(session: Session, prefix_or_id: str) -> ApiKey | None:
    stmt = select(ApiKey).where(ApiKey.prefix == prefix_or_id)
    key = session.exec(stmt).first()
    if key is None:
        try:
            key = session.get(ApiKey, uuid.UUID(prefix_or_id))
        except ValueError:
            return None
    if key is not None and key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
    return key


async def _principal(request: Request) -> Principal:
    """The request's key, authenticated and counted against its quota once per request.

    Async, so a cached key costs no trip to the threadpool: only a key that must be read from the database, and
    a limiter whose store is across the network, run there (each is one hop, and most requests need neither
    or only the second).
    """
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:  # a second scope check in the same request: authenticated and counted once
        return known
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <api key>'", headers={"WWW-Authenticate": "Bearer"})
    cache: KeyCache = request.app.state.key_cache
    hit, principal = cache.cached(token.strip())
    if not hit:
        principal = await run_in_threadpool(cache.load, request.app.state.engine, token.strip())
    if principal is None:
        raise Unauthorized("the API key is unknown or revoked", headers={"WWW-Authenticate": "Bearer"})
    # Limited after authentication, per key: an unknown key gets its 401 without costing anyone's budget.
    quota: Quota | None = request.app.state.api_quota
    if quota is not None:
        await limit_request_async(request, f"key:{principal.key_id}", quota)
    request.state.principal = principal
    return principal


def require(scope: Scope) -> object:
    async def dependency(request: Request) -> Principal:
        principal = await _principal(request)
        if not principal.has(scope):
            raise Forbidden(f"this endpoint needs the scope '{scope.value}'", required_scope=scope.value)
        return principal

    return Depends(dependency)


def require_company_reports() -> object:
    async def dependency(request: Request) -> Principal:
        principal = await _principal(request)
        check_company_reports(principal)
        return principal

    return Depends(dependency)


WriteKey = Annotated[Principal, require(Scope.signals_write)]
ReadKey = Annotated[Principal, require(Scope.signals_read)]
ContributorsWriteKey = Annotated[Principal, require(Scope.contributors_write)]
ReportsKey = Annotated[Principal, require(Scope.reports_read)]
CompanyReportsKey = Annotated[Principal, require_company_reports()]
AccountsReadKey = Annotated[Principal, require(Scope.accounts_read)]
AccountsWriteKey = Annotated[Principal, require(Scope.accounts_write)]
SyncReadKey = Annotated[Principal, require(Scope.sync_read)]
SyncWriteKey = Annotated[Principal, require(Scope.sync_write)]
AdminKey = Annotated[Principal, require(Scope.admin)]
