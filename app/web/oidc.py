"""OpenID Connect sign-in (authorization code flow with PKCE) against the issuer in settings.

Authlib's OAuth 2 client builds the authorization URL and exchanges the code; the ID token's signature is checked
against the issuer's published keys with joserfc (Authlib's successor JOSE library; ``authlib.jose`` is
deprecated in favour of it), and its issuer, audience, expiry and nonce are checked as OpenID Connect Core 1.0
section 3.1.3.7 requires: https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.settings import Settings
from app.web.sessions import OidcRequest, Role, role_from_claims

# Authlib, joserfc and requests are imported by the methods that use them: a deployment without OIDC (and every
# process start before its first sign-in) does not pay for a hundred and fifty modules it never runs.
if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session
    from joserfc.jwk import KeySet

DISCOVERY_TTL = 3600.0
HTTP_TIMEOUT = 10.0
LEEWAY_SECONDS = 60
ALGORITHMS = ["RS256", "ES256", "PS256"]


class SignInFailed(Exception):
    """The identity provider's answer cannot sign anyone in; the message is safe to show."""


@dataclass(frozen=True)
class Identity:
    email: str
    name: str | None
    role: Role


class OidcClient:
    """One per process: caches the issuer's metadata and keys (re-read on an unknown key id)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self._secret = settings.oidc_client_secret
        self.roles_claim = settings.oidc_roles_claim
        self.role_map = dict(settings.oidc_role_map)
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: KeySet | None = None

    def _get_json(self, url: str) -> dict[str, Any]:
        import requests

        try:
            response = requests.get(url, timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise SignInFailed("the identity provider did not answer") from exc
        if not isinstance(data, dict):
            raise SignInFailed("the identity provider answered something unexpected")
        return data

    def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document (OpenID Connect Discovery 1.0 section 4)."""
        with self._lock:
            if self._metadata and self._metadata[0] > time.monotonic():
                return self._metadata[1]
        data = self._get_json(self.issuer + "/.well-known/openid-configuration")
        if str(data.get("issuer", "")).rstrip("/") != self.issuer:
            raise SignInFailed("the identity provider's metadata names another issuer")
        with self._lock:
            self._metadata = (time.monotonic() + DISCOVERY_TTL, data)
        return data

    def _session(self, redirect_uri: str) -> OAuth2Session:
        from authlib.integrations.requests_client import OAuth2Session

        return OAuth2Session(
            self.client_id,
            self._secret.get_secret_value(),
            scope="openid email profile",
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )

    def authorization_url(self, redirect_uri: str, request: OidcRequest) -> str:
        endpoint = self.metadata()["authorization_endpoint"]
        with self._session(redirect_uri) as client:
            url, _state = client.create_authorization_url(
                endpoint, state=request.state, code_verifier=request.code_verifier, nonce=request.nonce
            )
        return str(url)

    def identity(self, redirect_uri: str, code: str, request: OidcRequest) -> Identity:
        """Exchange the code, verify the ID token, and map its claims to a person and a role."""
        meta = self.metadata()
        with self._session(redirect_uri) as client:
            try:
                token = client.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=request.code_verifier, timeout=HTTP_TIMEOUT
                )
            except Exception as exc:  # authlib raises OAuthError and requests' errors alike
                raise SignInFailed("the identity provider refused the sign-in code") from exc
        raw = token.get("id_token")
        if not isinstance(raw, str):
            raise SignInFailed("the identity provider sent no ID token")
        claims = self._verified_claims(raw, meta, request.nonce)
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise SignInFailed("the ID token carries no e-mail address")
        if claims.get("email_verified") is False:
            raise SignInFailed("the identity provider has not verified this e-mail address")
        name = claims.get("name")
        return Identity(
            email=email.strip().lower(),
            name=name if isinstance(name, str) else None,
            role=role_from_claims(claims.get(self.roles_claim), self.role_map),
        )

    def _key_set(self, meta: dict[str, Any], refresh: bool) -> KeySet:
        from joserfc.jwk import KeySet

        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
        keys = KeySet.import_key_set(self._get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
        with self._lock:
            self._keys = keys
        return keys

    def _verified_claims(self, raw: str, meta: dict[str, Any], nonce: str) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            try:
                token = jwt.decode(raw, self._key_set(meta, refresh=False), algorithms=ALGORITHMS)
            except ValueError:  # no key with the token's kid: the issuer may have rotated its keys
                token = jwt.decode(raw, self._key_set(meta, refresh=True), algorithms=ALGORITHMS)
            registry = jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": str(meta["issuer"])},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise SignInFailed("the ID token failed verification") from exc
        return dict(token.claims)
