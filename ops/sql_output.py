"""Print or write a DuckDB query result: a terminal table, CSV, JSON lines, or Parquet."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

import duckdb
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from compliance.audit import plain

BATCH: Final = 10_000
"""Rows fetched at a time: a result is streamed to its file, never held whole."""


def write_result(
    relation: duckdb.DuckDBPyRelation, output: str, out: Path | None, max_rows: int = 100
) -> None:
    if output == "parquet":
        assert out is not None
        # Written here, not by DuckDB: its connection may touch only the analytics files.
        batches = relation.fetch_record_batch(BATCH)
        with pq.ParquetWriter(out, batches.schema, compression="zstd") as writer:
            for batch in batches:
                writer.write_batch(batch)
        return
    if out is not None:
        with open(out, "w", encoding="utf-8", newline="") as handle:
            _write_text(relation, output, handle, max_rows=None)
    else:
        _write_text(relation, output, sys.stdout, max_rows)


def _rows(relation: duckdb.DuckDBPyRelation) -> Iterator[tuple[Any, ...]]:
    for batch in relation.fetch_record_batch(BATCH):
        yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)


def _cell(value: Any) -> Any:
    """A CSV cell: lists and structs as JSON (not Python's repr), the rest as `plain`."""
    shown = plain(value)
    return json.dumps(shown, ensure_ascii=False) if isinstance(shown, list | dict) else shown


def _write_text(
    relation: duckdb.DuckDBPyRelation, output: str, handle: IO[str], max_rows: int | None
) -> None:
    columns = list(relation.columns)
    if output == "csv":
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([_cell(v) for v in row] for row in _rows(relation))
    elif output == "json":
        for row in _rows(relation):
            record = {c: plain(v) for c, v in zip(columns, row, strict=True)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        console = Console(file=handle, width=max(120, Console().width))
        shown, total = [], 0
        for row in _rows(relation):  # the rest only counted, for the caption
            if max_rows is None or total < max_rows:
                shown.append(row)
            total += 1
        cells = [["NULL" if v is None else str(v) for v in row] for row in shown]
        table = Table(*columns, caption=f"{total} rows")
        for row_cells in cells:
            table.add_row(*row_cells)
        if _needed_width(columns, cells) <= console.width:
            console.print(table)
        else:  # squeezed to blank columns: one record at a time, as psql's \x does
            console.print(_records(columns, cells, total), markup=False, highlight=False)


READABLE: Final = 12
"""Characters a column must keep (or its whole content, if shorter) to be worth a table."""


def _needed_width(columns: list[str], cells: list[list[str]]) -> int:
    """Width of a table whose every column shows `READABLE` characters or all it holds:
    rich squeezes a wider one to columns too narrow to read anything."""
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    return sum(min(w, READABLE) + 3 for w in widths) + 1


def _records(columns: list[str], cells: list[list[str]], total: int) -> str:
    """Rows as blocks of ``column | value`` lines, for results wider than the terminal."""
    pad = max(map(len, columns), default=0)
    blocks = [
        "\n".join(
            [
                f"-[ row {n} ]-",
                *(f"{c.ljust(pad)} | {v}" for c, v in zip(columns, row, strict=True)),
            ]
        )
        for n, row in enumerate(cells, start=1)
    ]
    return "\n".join([*blocks, f"({total} rows)"])
