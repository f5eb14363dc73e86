"""`crm sql` output: a table when it fits the terminal, one record at a time when not."""

from __future__ import annotations

import io

import duckdb

from ops.sql_output import _write_text


def printed(query: str) -> str:
    handle = io.StringIO()
    _write_text(duckdb.sql(query), "table", handle, max_rows=10)
    return handle.getvalue()


def test_a_narrow_result_is_a_table() -> None:
    out = printed("SELECT 1 AS n, 'a' AS letter")
    assert "letter" in out and "1 rows" in out and "-[ row" not in out


def test_a_result_wider_than_the_terminal_is_shown_record_by_record() -> None:
    wide = ", ".join(f"'value-{i}-0123456789' AS column_{i}" for i in range(40))
    out = printed(f"SELECT {wide} UNION ALL SELECT {wide}")
    assert out.count("-[ row ") == 2
    assert "column_39 | value-39-0123456789" in out, "every value readable"
    assert "(2 rows)" in out
