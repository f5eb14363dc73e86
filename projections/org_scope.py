"""Whose customers a person may see: the owners of their teams, or of their department.

The organisation's read model (rm_org_teams, rm_org_members) is the authority; a token's
`team` / `department` claims are only a hint (they outlive a move between teams). A
person in no team sees only the customers they own.
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection

_TEAMMATES = """
SELECT m.member FROM rm_org_members AS mine
JOIN rm_org_members AS m ON m.team = mine.team
WHERE mine.member = %(subject)s
"""
_DEPARTMENT = """
SELECT m.member FROM rm_org_members AS mine
JOIN rm_org_teams AS t ON t.team = mine.team
JOIN rm_org_teams AS same ON same.department = t.department
JOIN rm_org_members AS m ON m.team = same.team
WHERE mine.member = %(subject)s
"""


def visible_owners(conn: Connection[Any], subject: str, *, department: bool) -> frozenset[str]:
    """`subject` and everyone in their teams (`department`: in their teams' departments)."""
    rows = conn.execute(_DEPARTMENT if department else _TEAMMATES, {"subject": subject})
    return frozenset({subject, *(row[0] for row in rows.fetchall())})


def owners_of(conn: Connection[Any], customer_ids: list[Any]) -> dict[Any, str | None]:
    """Each known customer's owner (a live subscription checks its scope by it)."""
    rows = conn.execute(
        "SELECT id, owner FROM rm_customers WHERE id = ANY(%(ids)s::uuid[])", {"ids": customer_ids}
    ).fetchall()
    return {row[0]: row[1] for row in rows}
