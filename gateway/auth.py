"""Who is asking: HS256 JWT bearer tokens with the claims `sub`, `role` and `exp`.

`crm token` (ops/tokens.py) mints them with the same secret and claims (plus `iss`
"crm" and `iat`). The secret is a parameter here, never read from the environment, so
the gateway, tests and tools agree on it explicitly. The subject becomes the actor of
every event the request causes.
"""

from __future__ import annotations

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


class Unauthenticated(Exception):
    """No token, a malformed, forged or expired one, or one without a known role."""


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    expires_at: datetime

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) > self.expires_at + LEEWAY


def verify_token(
    token: str,
    secret: str,
    *,
    max_lifetime: timedelta = MAX_LIFETIME,
    now: datetime | None = None,
) -> Principal:
    """The principal of a valid token; raises `Unauthenticated` with the reason otherwise.

    A token whose `exp` lies more than `max_lifetime` ahead is refused: tokens are
    minted with a capped lifetime, so a longer one is forged or misconfigured.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
            leeway=LEEWAY,
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthenticated("the token has expired") from error
    except jwt.InvalidTokenError as error:
        raise Unauthenticated(f"invalid token: {error}") from error
    if "iss" in claims and claims["iss"] != ISSUER:
        raise Unauthenticated("invalid token: wrong issuer")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise Unauthenticated("invalid token: no subject")
    try:
        role = Role(str(claims.get("role")))
    except ValueError as error:
        raise Unauthenticated(f"invalid token: unknown role {claims.get('role')!r}") from error
    expires_at = _expiry(claims["exp"], max_lifetime, now or datetime.now(UTC))
    return Principal(subject=subject, role=role, expires_at=expires_at)


def _expiry(exp: object, max_lifetime: timedelta, now: datetime) -> datetime:
    """`exp` as a time, checked against the lifetime cap before any date arithmetic."""
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise Unauthenticated("invalid token: exp must be a number of seconds")
    latest = now + max_lifetime + LEEWAY
    if exp > latest.timestamp():
        seconds = int(max_lifetime.total_seconds())
        cap = f"{seconds // 86400} days" if seconds % 86400 == 0 else f"{seconds} seconds"
        raise Unauthenticated(
            f"invalid token: it expires too far ahead; lifetimes are capped at {cap}"
        )
    return datetime.fromtimestamp(int(exp), UTC)


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    if not header:
        raise Unauthenticated("missing Authorization: Bearer token")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
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
) -> str:
    """A token as `crm token` makes it (for tests, demos and tools)."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": subject,
        "role": str(Role(role)),
        "iss": ISSUER,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
