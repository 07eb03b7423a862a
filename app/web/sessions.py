"""Web sign-in: roles and their scopes, one-time sign-in tokens, and browser sessions. Never commits.

A session acts with the same ``Principal`` as an API key, so every service applies the API's own authorization
rules to the web pages: a contributor's principal is bound to that person (others' objects answer 404).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.contributors.models import Contributor
from app.contributors.service import contributor_for_sign_in
from app.core.auth import Principal, Scope
from app.core.timeutil import utcnow
from app.web.models import SignInToken, WebSession

Role = Literal["contributor", "seller", "analyst", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True)
class RoleGrant:
    scopes: frozenset[Scope]
    # Bound: the principal carries the person's contributor id, so services show only that person's data.
    bound: bool


# accounts:read for the customer typeahead; an analyst's signals stay their own, the reports are company-wide.
ROLE_GRANTS: dict[Role, RoleGrant] = {
    "contributor": RoleGrant(frozenset({Scope.signals_write, Scope.signals_read, Scope.accounts_read}), bound=True),
    "seller": RoleGrant(frozenset({Scope.signals_write, Scope.signals_read, Scope.accounts_read}), bound=False),
    "analyst": RoleGrant(
        frozenset(
            {Scope.signals_write, Scope.signals_read, Scope.accounts_read, Scope.reports_read, Scope.reports_read_all}
        ),
        bound=True,
    ),
    "admin": RoleGrant(frozenset({Scope.admin}), bound=False),
}
# When an identity provider lists several of our roles, the one granting most wins.
ROLE_ORDER: tuple[Role, ...] = ("admin", "seller", "analyst", "contributor")

LINK_TTL = timedelta(minutes=15)
OIDC_STATE_TTL = timedelta(minutes=10)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class WebUser:
    """The person behind a browser session."""

    session_id: uuid.UUID
    contributor_id: uuid.UUID
    email: str
    name: str | None
    role: Role
    scopes: frozenset[str]
    csrf_token: str

    @property
    def principal(self) -> Principal:
        bound = ROLE_GRANTS[self.role].bound
        return Principal(self.session_id, f"web:{self.email}", self.scopes, self.contributor_id if bound else None)

    def has(self, scope: Scope) -> bool:
        return self.principal.has(scope)

    @property
    def display_name(self) -> str:
        return self.name or self.email


def create_link_token(session: Session, email: str, role: Role, next_path: str | None = None) -> str:
    """A one-time development sign-in token for ``email`` with ``role``; valid for 15 minutes."""
    raw = secrets.token_urlsafe(32)
    session.add(
        SignInToken(
            token_hash=token_hash(raw),
            purpose="link",
            email=email.strip().lower(),
            role=role,
            next_path=next_path,
            expires_at=utcnow() + LINK_TTL,
        )
    )
    session.flush()
    return raw


@dataclass(frozen=True)
class OidcRequest:
    state: str
    nonce: str
    code_verifier: str


def begin_oidc(session: Session, next_path: str | None) -> OidcRequest:
    """Store a fresh ``state`` (hashed) with its nonce and PKCE verifier for the callback to consume once."""
    request = OidcRequest(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48))
    session.add(
        SignInToken(
            token_hash=token_hash(request.state),
            purpose="oidc",
            nonce=request.nonce,
            code_verifier=request.code_verifier,
            next_path=next_path,
            expires_at=utcnow() + OIDC_STATE_TTL,
        )
    )
    session.flush()
    return request


def consume(session: Session, raw: str, purpose: str) -> SignInToken | None:
    """The token, marked used; None if unknown, expired or already used. One UPDATE, so a token that two
    requests present at once signs in only one of them."""
    now = utcnow()
    table = SignInToken.__table__  # type: ignore[attr-defined]
    claimed = session.execute(
        sa.update(table)
        .where(
            table.c.token_hash == token_hash(raw),
            table.c.purpose == purpose,
            table.c.used_at.is_(None),
            table.c.expires_at > now,
        )
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.exec(select(SignInToken).where(SignInToken.token_hash == token_hash(raw))).one()


def start_session(session: Session, email: str, name: str | None, role: Role, hours: float) -> str:
    """Sign ``email`` in with ``role``: the contributor is found or created; returns the cookie's token."""
    contributor = contributor_for_sign_in(session, email, name)
    raw = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=token_hash(raw),
            contributor_id=contributor.id,
            role=role,
            scopes=sorted(s.value for s in ROLE_GRANTS[role].scopes),
            csrf_token=secrets.token_urlsafe(32),
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    session.flush()
    return raw


def load_user(engine: Engine, raw: str) -> WebUser | None:
    """The signed-in person for a cookie token; None when unknown, expired, signed out or erased."""
    stmt = (
        select(WebSession, Contributor)
        .join(Contributor, col(Contributor.id) == col(WebSession.contributor_id))
        .where(WebSession.token_hash == token_hash(raw))
    )
    with Session(engine) as session:
        found = session.exec(stmt).first()
    if found is None:
        return None
    web, person = found
    if web.revoked_at is not None or web.expires_at <= utcnow() or person.email is None or web.role not in ROLES:
        return None
    return WebUser(
        session_id=web.id,
        contributor_id=person.id,
        email=person.email,
        name=person.name,
        role=web.role,  # checked against ROLES above
        scopes=frozenset(web.scopes),
        csrf_token=web.csrf_token,
    )


def end_session(session: Session, session_id: uuid.UUID) -> None:
    web = session.get(WebSession, session_id)
    if web is not None and web.revoked_at is None:
        web.revoked_at = utcnow()
        session.add(web)


def role_from_claims(values: object, role_map: dict[str, str]) -> Role:
    """Our role for the roles an identity provider lists (mapped by ``role_map``, else taken by name); the
    most privileged wins; a person with none of ours is a contributor."""
    listed = [values] if isinstance(values, str) else list(values) if isinstance(values, list | tuple) else []
    ours = {role_map.get(str(v), str(v)) for v in listed}
    return next((r for r in ROLE_ORDER if r in ours), "contributor")
