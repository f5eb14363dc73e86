"""Who is asking: the one token module (minting and verifying, for the gateway and `crm token`).

Two kinds of bearer token are accepted, told apart by the header's `alg`:

- **local** HS256 tokens that `crm token` mints (`mint_token`) with the platform secret,
  claims `sub`, `role`, `iss` "crm", `iat`, `exp`: for development, demos and tools;
- **identity-provider** tokens (RS256/ES256), when an `IdentityProvider` is configured:
  the signing key is taken by the token's `kid` from the provider's JWKS URL (PyJWT's
  `PyJWKClient`: the key set is cached for `cache_seconds`, and an unknown `kid` refetches
  it at most once per `refresh_cooldown`, which is how a rotated key is picked up without a
  restart and how a stream of made-up kids cannot hammer the provider); `iss` and `aud`
  must match, and the role comes from the `role_claim`.

Every refusal is an `Unauthenticated` with a stable `code` (TOKEN_EXPIRED,
TOKEN_WRONG_ISSUER, …) beside its message. Secrets are parameters, never read from the
environment here. The subject becomes the actor of every event the request causes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from gateway.roles import Role

ALGORITHM = "HS256"
ISSUER = "crm"
LEEWAY = timedelta(seconds=5)
MAX_LIFETIME = timedelta(days=30)
"""The longest a token may still be valid for when it is presented (`crm token` caps
its `--ttl` at the same default): a leaked long-lived token is a standing key, and an
absurd `exp` (10¹²) must be refused with 401, not overflow a date into a 500."""
PROVIDER_ALGORITHMS = ("RS256", "ES256")
REMEMBERED_TOKENS = 4096
"""How many verified tokens a verifier keeps (`TokenVerifier.remembered`)."""


class Unauthenticated(Exception):
    """No token, a malformed, forged or expired one, or one without a known role."""

    def __init__(self, message: str, code: str = "TOKEN_INVALID") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    expires_at: datetime
    team: str | None = None
    department: str | None = None
    """`team` / `department` claims: a hint for screens only. Scoping asks the
    organisation's read model (`gateway.scope`), since a claim outlives a move between
    teams until the token expires."""

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) > self.expires_at + LEEWAY


@dataclass(frozen=True)
class IdentityProvider:
    """An OpenID Connect provider whose access tokens the gateway accepts."""

    jwks_url: str
    issuer: str
    audience: str
    algorithms: tuple[str, ...] = PROVIDER_ALGORITHMS
    role_claim: str = "role"
    cache_seconds: float = 300.0
    refresh_cooldown: float = 30.0


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    until: datetime  # the token's own expiry, with the leeway
    trusted_until: float  # monotonic: a provider's key set is trusted this long


class TokenVerifier:
    """Verifies local HS256 tokens with `secret` and, given a provider, its tokens.

    A token that verified is remembered by its exact text (signature included, so no
    other text can match it) until it expires, and a provider's token no longer than
    the provider's key set is cached (`cache_seconds`): a key the provider retires stops
    being trusted at the same moment as without the memory. Every request of a session
    presents the same token, and decoding it (twice: header, then claims, each segment's
    alphabet checked a character at a time) and checking its signature was ~12% of a
    mutation's CPU in the gateway.
    """

    def __init__(
        self,
        secret: str | None,
        provider: IdentityProvider | None = None,
        *,
        max_lifetime: timedelta = MAX_LIFETIME,
    ) -> None:
        self.secret = secret
        self.provider = provider
        self.max_lifetime = max_lifetime
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()
        self._jwks = (
            jwt.PyJWKClient(
                provider.jwks_url,
                lifespan=provider.cache_seconds,
                cooldown_duration=provider.refresh_cooldown,
                timeout=5,
            )
            if provider is not None
            else None
        )

    def is_local(self, token: str) -> bool:
        """True for a local HS256 token (verified without I/O); else the provider's (may
        fetch its key set: callers on an event loop run it in a thread)."""
        return _header(token).get("alg") == ALGORITHM

    def verify(self, token: str, *, now: datetime | None = None) -> Principal:
        """The principal of a valid token; raises `Unauthenticated` with a code otherwise."""
        known = self.remembered(token, now=now)
        if known is not None:
            return known
        algorithm = _header(token).get("alg")
        if algorithm == ALGORITHM and self.secret:
            claims = _decoded(token, self.secret, [ALGORITHM])
            if "iss" in claims and claims["iss"] != ISSUER:
                raise Unauthenticated("invalid token: wrong issuer", "TOKEN_WRONG_ISSUER")
            return self._remember(token, _principal(claims, "role", self.max_lifetime, now))
        if self.provider is not None and algorithm in self.provider.algorithms:
            principal = self._verify_provider_token(token, self.provider, now)
            return self._remember(token, principal, self.provider.cache_seconds)
        raise Unauthenticated(
            f"invalid token: algorithm {algorithm!r} is not accepted", "TOKEN_ALGORITHM"
        )

    def remembered(self, token: str, *, now: datetime | None = None) -> Principal | None:
        """The principal of `token` if it verified before and may still be trusted."""
        with self._lock:
            found = self._verified.get(token)
            if found is None:
                return None
            if (now or datetime.now(UTC)) > found.until or time.monotonic() > found.trusted_until:
                del self._verified[token]
                return None
            self._verified.move_to_end(token)
            return found.principal

    def _remember(
        self, token: str, principal: Principal, trusted_for: float = float("inf")
    ) -> Principal:
        entry = _Verified(principal, principal.expires_at + LEEWAY, time.monotonic() + trusted_for)
        with self._lock:
            self._verified[token] = entry
            self._verified.move_to_end(token)
            while len(self._verified) > REMEMBERED_TOKENS:
                self._verified.popitem(last=False)
        return principal

    def _verify_provider_token(
        self, token: str, provider: IdentityProvider, now: datetime | None
    ) -> Principal:
        assert self._jwks is not None
        if not _header(token).get("kid"):
            raise Unauthenticated("invalid token: no key id (kid)", "TOKEN_UNKNOWN_KEY")
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as error:
            raise Unauthenticated(
                f"cannot fetch the identity provider's keys: {error}", "TOKEN_KEYS_UNAVAILABLE"
            ) from error
        except jwt.PyJWKClientError as error:
            raise Unauthenticated(f"invalid token: {error}", "TOKEN_UNKNOWN_KEY") from error
        claims = _decoded(token, key, list(provider.algorithms), provider)
        return _principal(claims, provider.role_claim, self.max_lifetime, now)


def _header(token: str) -> dict[str, Any]:
    try:
        return dict(jwt.get_unverified_header(token))
    except jwt.InvalidTokenError as error:
        raise Unauthenticated(f"invalid token: {error}") from error


def _decoded(
    token: str, key: Any, algorithms: list[str], provider: IdentityProvider | None = None
) -> dict[str, Any]:
    """The claims, signature and `exp` checked; a provider's `iss` and `aud` too."""
    required = ["exp", "sub", *(["iss", "aud"] if provider else [])]
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            options={"require": required},
            leeway=LEEWAY,
            issuer=provider.issuer if provider else None,
            audience=provider.audience if provider else None,
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthenticated("the token has expired", "TOKEN_EXPIRED") from error
    except jwt.InvalidIssuerError as error:
        raise Unauthenticated("invalid token: wrong issuer", "TOKEN_WRONG_ISSUER") from error
    except jwt.InvalidAudienceError as error:
        raise Unauthenticated("invalid token: wrong audience", "TOKEN_WRONG_AUDIENCE") from error
    except jwt.InvalidTokenError as error:
        raise Unauthenticated(f"invalid token: {error}") from error
    return claims


def _principal(
    claims: Mapping[str, Any], role_claim: str, max_lifetime: timedelta, now: datetime | None
) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise Unauthenticated("invalid token: no subject", "TOKEN_NO_SUBJECT")
    role = _role(claims.get(role_claim))
    expires_at = _expiry(claims["exp"], max_lifetime, now or datetime.now(UTC))
    team, department = claims.get("team"), claims.get("department")
    return Principal(
        subject=subject,
        role=role,
        expires_at=expires_at,
        team=team if isinstance(team, str) else None,
        department=department if isinstance(department, str) else None,
    )


def _role(value: object) -> Role:
    """One known role: a string, or a list holding exactly one (an IdP's `roles` claim)."""
    candidates = value if isinstance(value, list) else [value]
    known = {Role(str(v)) for v in candidates if str(v) in Role._value2member_map_}
    if len(known) != 1:
        raise Unauthenticated(f"invalid token: unknown role {value!r}", "TOKEN_UNKNOWN_ROLE")
    return known.pop()


def _expiry(exp: object, max_lifetime: timedelta, now: datetime) -> datetime:
    """`exp` as a time, checked against the lifetime cap before any date arithmetic."""
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise Unauthenticated("invalid token: exp must be a number of seconds")
    latest = now + max_lifetime + LEEWAY
    if exp > latest.timestamp():
        seconds = int(max_lifetime.total_seconds())
        cap = f"{seconds // 86400} days" if seconds % 86400 == 0 else f"{seconds} seconds"
        raise Unauthenticated(
            f"invalid token: it expires too far ahead; lifetimes are capped at {cap}",
            "TOKEN_TOO_LONG",
        )
    return datetime.fromtimestamp(int(exp), UTC)


def verify_token(
    token: str,
    secret: str,
    *,
    max_lifetime: timedelta = MAX_LIFETIME,
    now: datetime | None = None,
) -> Principal:
    """The principal of a valid local (HS256) token; raises `Unauthenticated` otherwise."""
    return TokenVerifier(secret, max_lifetime=max_lifetime).verify(token, now=now)


def verify_claims(token: str, secret: str) -> dict[str, Any]:
    """The claims of a valid local token (for tools and tests that read them)."""
    verify_token(token, secret)
    return _decoded(token, secret, [ALGORITHM])


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    if not header:
        raise Unauthenticated("missing Authorization: Bearer token", "TOKEN_MISSING")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'", "TOKEN_MISSING")
    return token.strip()


def authenticate(
    header: str | None, secret: str, *, max_lifetime: timedelta = MAX_LIFETIME
) -> Principal:
    return verify_token(bearer_token(header), secret, max_lifetime=max_lifetime)


def token_of_connection_params(params: Mapping[str, Any] | None) -> str | None:
    """The Authorization value a WebSocket client sent in `connection_init`, if any.

    Accepts ``{"Authorization": "Bearer …"}`` (any case), ``{"headers": {...}}`` as some
    clients nest it, or ``{"token": "…"}``.
    """
    if not params:
        return None
    for source in (params, params.get("headers")):
        if isinstance(source, Mapping):
            for key, value in source.items():
                if isinstance(key, str) and key.lower() == "authorization":
                    return str(value)
    token = params.get("token")
    return f"Bearer {token}" if isinstance(token, str) else None


def mint_token(
    secret: str,
    *,
    subject: str,
    role: Role | str,
    ttl: timedelta = timedelta(hours=12),
    now: datetime | None = None,
    team: str | None = None,
    department: str | None = None,
) -> str:
    """A local token, as `crm token` makes it (also for tests, demos and tools)."""
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "role": str(Role(role)),
        "iss": ISSUER,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    if team is not None:
        claims["team"] = team
    if department is not None:
        claims["department"] = department
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
