"""Who sees which personal field how: full, partial (``138****8000``) or none (null).

The one place that decides it, per field and role (`FIELD_MATRIX`, repeated in
docs/roles.md); every resolver that returns a personal value passes it through `shown`.
A role without `SEE_PERSONAL` (`gateway.roles`) sees none of them whatever this table
says. Partial values keep just enough to recognise a customer on the phone or in a
mail ("is your number 138****8000?") without handing out the whole of it: support
staff talk to customers but need not copy their contact details.

Free texts (touch summaries, need descriptions, complaint descriptions and resolutions,
reasons, survey comments) are one category, `FREE_TEXT`: partial makes no sense there.
"""

from __future__ import annotations

import enum
from typing import Final

from gateway.roles import Role, sees_personal


class Visibility(enum.StrEnum):
    FULL = "full"
    PARTIAL = "partial"
    NONE = "none"


FREE_TEXT: Final = "free text"
PERSONAL_FIELDS: Final = ("name", "email", "phone", "address", FREE_TEXT)

F, P, N = Visibility.FULL, Visibility.PARTIAL, Visibility.NONE
_EVERYTHING: Final = dict.fromkeys(PERSONAL_FIELDS, F)
FIELD_MATRIX: Final[dict[Role, dict[str, Visibility]]] = {
    Role.ADMIN: _EVERYTHING,
    Role.SALES: _EVERYTHING,
    Role.MANAGER: _EVERYTHING,
    Role.COMPLIANCE: _EVERYTHING,
    Role.SUPPORT: {"name": F, "email": P, "phone": P, "address": P, FREE_TEXT: F},
    Role.ANALYST: dict.fromkeys(PERSONAL_FIELDS, N),
}
"""Role -> personal field -> how much of it the role sees."""

_FIELD_KIND: Final = {"name": "name", "email": "email", "phone": "phone", "address": "address"}


def kind_of(field: str) -> str:
    """The matrix column of a personal field: its own name, or `FREE_TEXT`."""
    return _FIELD_KIND.get(field, FREE_TEXT)


def visibility(role: Role, field: str) -> Visibility:
    if not sees_personal(role):
        return Visibility.NONE
    return FIELD_MATRIX[role].get(kind_of(field), Visibility.NONE)


def partial_phone(value: str) -> str:
    """``+8613800138000`` -> ``138****8000``: a mainland number without +86, the middle
    four digits hidden; elsewhere the country code and the last four digits stay."""
    national = value[3:] if value.startswith("+86") else value
    if len(national) < 8:
        return "*" * max(len(national) - 2, 1) + national[-2:]
    return national[:3] + "****" + national[-4:]


def partial_email(value: str) -> str:
    """``zhang.san@example.com`` -> ``z***@example.com``."""
    local, at, domain = value.rpartition("@")
    if not at:
        return value[:1] + "***"
    return f"{local[:1]}***@{domain}"


def partial_name(value: str) -> str:
    """``张三`` -> ``张*``; ``Alice Smith`` -> ``A***``."""
    return value[:1] + ("*" if len(value) <= 3 else "***")


def partial_address(value: str) -> str:
    """The first six characters (the city or district, usually) and ``***``."""
    return value[:6] + "***"


_PARTIAL: Final = {
    "name": partial_name,
    "email": partial_email,
    "phone": partial_phone,
    "address": partial_address,
}


def mask(field: str, value: str | None, how: Visibility) -> str | None:
    """The value as a role with `how` sees it; None stays None."""
    if value is None or how is Visibility.NONE:
        return None
    if how is Visibility.FULL:
        return value
    partial = _PARTIAL.get(kind_of(field))
    return partial(value) if partial is not None else None


def shown(role: Role | None, field: str, value: str | None) -> str | None:
    """`mask` by the matrix's cell for (role, field); no role sees nothing."""
    return mask(field, value, visibility(role, field)) if role is not None else None
