"""Print or write a DuckDB query result: a terminal table, CSV, JSON lines, or Parquet."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import IO

import duckdb
from rich.console import Console
from rich.table import Table

from compliance.audit import plain


def write_result(
    relation: duckdb.DuckDBPyRelation, output: str, out: Path | None, max_rows: int = 100
) -> None:
    if output == "parquet":
        assert out is not None
        relation.write_parquet(str(out), compression="zstd")
        return
    if out is not None:
        with open(out, "w", encoding="utf-8", newline="") as handle:
            _write_text(relation, output, handle, max_rows=None)
    else:
        _write_text(relation, output, sys.stdout, max_rows)


def _write_text(
    relation: duckdb.DuckDBPyRelation, output: str, handle: IO[str], max_rows: int | None
) -> None:
    columns = list(relation.columns)
    rows = relation.fetchall()
    if output == "csv":
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([plain(v) for v in row] for row in rows)
    elif output == "json":
        for row in rows:
            record = {c: plain(v) for c, v in zip(columns, row, strict=True)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        table = Table(*columns, caption=f"{len(rows)} rows")
        shown = rows if max_rows is None else rows[:max_rows]
        for row in shown:
            table.add_row(*("NULL" if v is None else str(v) for v in row))
        Console(file=handle, width=max(120, Console().width)).print(table)
