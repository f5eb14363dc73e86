"""Custom fields on the read side: the definitions (rm_custom_fields) and the list
filter over customers' values (rm_customers.custom_fields).

Equality and "one of" become jsonb containment (``custom_fields @> '{"key": value}'``),
which the GIN index (jsonb_path_ops) answers; a MULTI_CHOICE value contains a choice
when its list does. Ranges (`min`/`max`, NUMBER and DATE) compare the value cast per
row, after the other conditions narrowed the rows: no index serves them. TEXT values
are personal and live in another column: never filtered on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class DefinitionView:
    key: str
    label: str
    field_type: str
    choices: tuple[str, ...]
    required: bool
    retired: bool
    defined_at: datetime
    defined_by: str | None
    retired_at: datetime | None


@dataclass(frozen=True)
class CustomFieldCondition:
    """One filter on a custom field; values already canonical (as stored). Every given
    part must hold: `equals` one value, `one_of` any of these, `low`/`high` a range."""

    key: str
    field_type: str
    equals: str | None = None
    one_of: tuple[str, ...] = ()
    low: str | None = None
    high: str | None = None


DEFINITIONS_SQL = "SELECT * FROM rm_custom_fields ORDER BY defined_at, key"


def custom_field_definitions(conn: Connection[Any]) -> list[DefinitionView]:
    """Every definition, retired ones included, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(DEFINITIONS_SQL).fetchall()
    return [
        DefinitionView(
            key=r["key"],
            label=r["label"],
            field_type=r["field_type"],
            choices=tuple(r["choices"] or ()),
            required=r["required"],
            retired=r["retired"],
            defined_at=r["defined_at"],
            defined_by=r["defined_by"],
            retired_at=r["retired_at"],
        )
        for r in rows
    ]


def _contains(key: str, field_type: str, value: str) -> Jsonb:
    return Jsonb({key: [value] if field_type == "MULTI_CHOICE" else value})


def custom_field_conditions(
    conditions: Sequence[CustomFieldCondition], params: dict[str, Any]
) -> list[sql.Composable]:
    """SQL conditions over ``rm_customers AS c`` for `conditions` (parameters added)."""
    found: list[sql.Composable] = []
    for n, cond in enumerate(conditions):
        if cond.equals is None and not cond.one_of and cond.low is None and cond.high is None:
            # A key alone: customers with a value for it (a cleared field has none).
            params[f"cf{n}_key"] = cond.key
            found.append(
                sql.SQL("c.custom_fields ->> %({})s IS NOT NULL").format(sql.SQL(f"cf{n}_key"))
            )
            continue
        if cond.equals is not None:
            params[f"cf{n}_eq"] = _contains(cond.key, cond.field_type, cond.equals)
            found.append(sql.SQL("c.custom_fields @> %({})s").format(sql.SQL(f"cf{n}_eq")))
        if cond.one_of:
            options = []
            for m, value in enumerate(cond.one_of):
                name = f"cf{n}_in{m}"
                params[name] = _contains(cond.key, cond.field_type, value)
                options.append(sql.SQL("c.custom_fields @> %({})s").format(sql.SQL(name)))
            found.append(sql.SQL("({})").format(sql.SQL(" OR ").join(options)))
        cast = sql.SQL("numeric" if cond.field_type == "NUMBER" else "date")
        for bound, op in ((cond.low, ">="), (cond.high, "<=")):
            if bound is None:
                continue
            name = f"cf{n}_{'lo' if op == '>=' else 'hi'}"
            params[name], params[f"cf{n}_key"] = bound, cond.key
            found.append(
                sql.SQL("(c.custom_fields ->> %({key})s)::{cast} {op} %({bound})s::{cast}").format(
                    key=sql.SQL(f"cf{n}_key"), cast=cast, op=sql.SQL(op), bound=sql.SQL(name)
                )
            )
    return found
