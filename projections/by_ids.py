"""Statements over a set of customer ids, prepared so PostgreSQL plans them once.

Reads for one customer (a 360° profile, a mutation's answer) and for a batch (a
DataLoader's, a page's) run the same statement text with one id or many; `by_ids`
renders it both ways once, and `ByIds.bind` picks by the count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple
from uuid import UUID

from psycopg import sql


class ByIds(NamedTuple):
    """A statement over a set of ids, rendered twice: for exactly one id, the id bound as
    a scalar in ``ARRAY[%(name)s::uuid]``; for any other count, one ``uuid[]`` parameter.

    PostgreSQL plans a prepared statement afresh on each of its first executions, then
    keeps the generic plan only if it costs no more than the custom ones did. An array
    parameter's length is unknown to a generic plan (it guesses 10 elements), so a
    statement read for one customer at a time never earned its generic plan: it was
    planned again on every execution, most of the server's CPU for a 360° profile (the
    merge resolution 0.26 ms, 0.07 ms planned once). ``ARRAY[$1]`` has one element in
    every plan, so after five executions the generic plan wins and is kept."""

    one: sql.SQL
    many: sql.SQL
    name: str

    def bind(self, ids: Sequence[UUID], **params: Any) -> tuple[sql.SQL, dict[str, Any]]:
        """The statement for `ids` and its parameters (`params` besides the ids)."""
        if len(ids) == 1:
            return self.one, {self.name: ids[0], **params}
        return self.many, {self.name: list(ids), **params}


def by_ids(name: str, render: Callable[[sql.Composable], sql.Composed]) -> ByIds:
    """`render` (a statement, given the SQL of a ``uuid[]``) for one id and for many,
    rendered once: a `Composed` is rendered again on every execute (~9 µs)."""
    one = sql.SQL("ARRAY[{}::uuid]").format(sql.Placeholder(name))
    many = sql.SQL("{}::uuid[]").format(sql.Placeholder(name))
    return ByIds(sql.SQL(render(one).as_string()), sql.SQL(render(many).as_string()), name)
