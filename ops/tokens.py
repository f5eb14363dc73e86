"""Signed tokens for local use: `crm token --role sales --subject alice`.

The command line's side only: its options checked (`--ttl`, `--role`, `--subject`) and
the secret found; minting and verifying are `gateway.auth`'s (HS256 JWTs with the claims
`sub` (who), `role` (one of `ROLES`), `iss` ("crm"), `iat` and `exp`). `ROLES` is the
gateway's own list (`gateway.roles`), so a token is minted for exactly the roles the
gateway accepts. The secret is `CRM_JWT_SECRET` when
set (production); otherwise a random secret generated once into `D/jwt.secret` (mode
0600) and reused, so tokens stay valid across restarts of the same data folder.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from gateway import auth
from gateway.roles import ROLES
from ops.errors import SettingError
from ops.keys import jwt_secret

__all__ = ["ROLES", "check_role", "jwt_secret", "mint_token", "parse_ttl"]

DEFAULT_TTL = "12h"
MAX_TTL = timedelta(days=30)
"""Default cap on `--ttl` (setting `max_token_ttl_days`); the gateway refuses tokens
that expire further ahead than its own cap, so a longer one would be useless anyway."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str, *, most: timedelta = MAX_TTL) -> timedelta:
    """`3600`, `90s`, `30m`, `12h` or `7d`, at most `most` (a clear error, not an overflow)."""
    match = re.fullmatch(r"\s*(\d{1,12})\s*([smhd]?)\s*", text)
    if not match or int(match.group(1)) == 0:
        raise SettingError("--ttl", f"expected a duration such as 30m, 12h or 7d, got {text!r}")
    seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds > most.total_seconds():
        raise SettingError(
            "--ttl",
            f"{text.strip()} is longer than the cap of {most.total_seconds() / 86400:g} days "
            "(setting max_token_ttl_days)",
        )
    return timedelta(seconds=seconds)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise SettingError("--role", f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def mint_token(
    secret: str,
    *,
    role: str,
    subject: str,
    ttl: timedelta,
    now: datetime | None = None,
    team: str | None = None,
    department: str | None = None,
) -> str:
    """`gateway.auth.mint_token` (the one token module), after the command line's checks."""
    check_role(role)
    if not subject.strip():
        raise SettingError("--subject", "must not be empty")
    return auth.mint_token(
        secret, subject=subject, role=role, ttl=ttl, now=now, team=team, department=department
    )
