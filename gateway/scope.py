"""Data scoping: which customers a request may see and change, by role and organisation.

| role                       | sees and changes                                       |
| -------------------------- | ------------------------------------------------------ |
| sales, support             | customers owned by themselves or a member of their teams |
| manager                    | customers owned by anyone in their teams' departments  |
| admin, compliance, analyst | every customer                                         |

A scope is a set of owners (None: no restriction). It is resolved once per request (or
once per subscription) from the organisation's read model and applied in every read's
SQL (lists, counts, complaint queue), in the customer loader (profile, node, timeline,
notes, tasks, which all hang off a customer), in subscriptions, and on the write side
(`CommandContext.scope`: the unit of work answers an out-of-scope customer NOT_FOUND
before anything is recorded). Unowned customers are outside every scope.
"""

from __future__ import annotations

from typing import Final

from gateway.roles import Role

TEAM_SCOPED: Final = frozenset({Role.SALES, Role.SUPPORT})
DEPARTMENT_SCOPED: Final = frozenset({Role.MANAGER})
Scope = frozenset[str] | None


def is_scoped(role: Role) -> bool:
    return role in TEAM_SCOPED or role in DEPARTMENT_SCOPED


def reaches(scope: Scope, owner: str | None) -> bool:
    """Whether a customer owned by `owner` is inside `scope`."""
    return scope is None or (owner is not None and owner in scope)
