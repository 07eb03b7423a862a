"""Tables of the web app: browser sessions and one-time sign-in tokens (dev links and OIDC states).

Only SHA-256 hashes of the tokens are stored, like API keys: a database dump signs nobody in.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.ids import uuid7
from app.core.secretbox import EncryptedString
from app.core.timeutil import UTCDateTime, utcnow


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds the token; ``csrf_token`` is echoed by every form of the session."""

    __tablename__ = "web_sessions"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    contributor_id: uuid.UUID = Field(foreign_key="contributors.id", ondelete="CASCADE", index=True)
    role: str = Field(max_length=20)
    scopes: list[str] = Field(default_factory=list, sa_type=sa.JSON(), nullable=False)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), nullable=True)


class SignInToken(SQLModel, table=True):
    """A one-time token: a development sign-in link (``purpose='link'``, with e-mail and role) or the ``state`` of
    an OpenID Connect authorization request (``purpose='oidc'``, with its nonce and PKCE verifier)."""

    __tablename__ = "web_sign_in_tokens"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    purpose: str = Field(max_length=10)
    email: str | None = Field(default=None, max_length=254)
    role: str | None = Field(default=None, max_length=20)
    nonce: str | None = Field(default=None, max_length=128)
    code_verifier: str | None = Field(default=None, sa_type=EncryptedString(), nullable=True)  # PKCE: encrypted
    next_path: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime(), nullable=False, index=True)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), nullable=True)
