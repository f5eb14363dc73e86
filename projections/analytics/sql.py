"""DuckDB SQL text for values that cannot be bound as parameters (view definitions,
COPY targets): string literals and lists of them."""

from __future__ import annotations

from collections.abc import Iterable


def literal(text: object) -> str:
    """A quoted SQL string literal of `str(text)`."""
    return "'" + str(text).replace("'", "''") + "'"


def literal_list(values: Iterable[object]) -> str:
    """A DuckDB list literal: ``['a', 'b']``."""
    return "[" + ", ".join(literal(v) for v in values) + "]"


def literal_tuple(values: Iterable[object]) -> str:
    """A parenthesised list for ``IN``: ``('a', 'b')``."""
    return "(" + ", ".join(literal(v) for v in values) + ")"
