"""The customer list as a file (`crm export customers`): CSV or Parquet, streamed.

Rows come from rm_customers (merged duplicates left out: their survivor stands for them)
in batches through a server-side cursor, so memory stays flat for any number of
customers. `masks` turns each personal column's value into what the exporting role may
see: the caller decides them from the role, exactly as the API masks that role (empty,
partial such as ``138****8000``, or whole).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import Connection

COLUMNS: Final[tuple[tuple[str, pa.DataType], ...]] = (
    ("id", pa.string()),
    ("name", pa.string()),
    ("email", pa.string()),
    ("phone", pa.string()),
    ("address", pa.string()),
    ("company", pa.string()),
    ("industry", pa.string()),
    ("region", pa.string()),
    ("source", pa.string()),
    ("owner", pa.string()),
    ("tags", pa.string()),
    ("stage", pa.string()),
    ("lifecycle_stage", pa.string()),
    ("tier", pa.string()),
    ("forgotten", pa.bool_()),
    ("created_at", pa.timestamp("us", tz="UTC")),
    ("updated_at", pa.timestamp("us", tz="UTC")),
)
PERSONAL: Final = ("name", "email", "phone", "address")
_PERSONAL_AT: Final = {name: i for i, (name, _) in enumerate(COLUMNS) if name in PERSONAL}
ID_AT: Final = 0
Row = tuple[Any, ...]
Mask = Callable[[str | None], str | None]
FORMATS: Final = ("csv", "parquet")
BATCH: Final = 5000

_SELECT = (
    "SELECT id::text, name, email, phone, address, company, industry, region, source, owner,"
    " array_to_string(tags, ';'), stage, lifecycle_stage, tier, forgotten, created_at,"
    " updated_at FROM rm_customers WHERE merged_into IS NULL"
    " AND (%(owners)s::text[] IS NULL OR owner = ANY(%(owners)s::text[]))"
    " ORDER BY created_at, id"
)


def _batches(
    conn: Connection[Any], masks: Mapping[str, Mask], owners: Collection[str] | None
) -> Iterator[list[Row]]:
    masked = [(i, masks[name]) for i, (name, _) in enumerate(COLUMNS) if name in masks]
    with conn.cursor(name="crm_export_customers") as cur:
        cur.execute(_SELECT, {"owners": None if owners is None else sorted(owners)})
        while rows := cur.fetchmany(BATCH):
            yield [_masked(row, masked) for row in rows]


def _masked(row: Row, masked: Sequence[tuple[int, Mask]]) -> Row:
    values = list(row)
    for i, mask in masked:
        values[i] = mask(values[i])
    return tuple(values)


def export_customers(
    conn: Connection[Any],
    path: Path,
    *,
    fmt: str,
    masks: Mapping[str, Mask] | None = None,
    progress: Callable[[int], None] | None = None,
    owners: Collection[str] | None = None,
    before_write: Callable[[list[Row]], object] | None = None,
) -> int:
    """Write every customer to `path` in `fmt` (only those `owners` own, when given: the
    caller's scope); returns how many rows were written. `before_write` sees each batch
    before it reaches the file: an export of personal data is logged before it is made,
    so a failing log stops the export instead of leaving unlogged rows behind."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    written = 0

    def batches() -> Iterator[list[Row]]:
        nonlocal written
        for batch in _batches(conn, masks or {}, owners):
            if before_write:
                before_write(batch)
            yield batch
            written += len(batch)
            if progress:
                progress(len(batch))

    schema = pa.schema([pa.field(n, t) for n, t in COLUMNS])
    with conn.transaction():  # a named cursor lives in a transaction
        if fmt == "csv":
            with path.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow([n for n, _ in COLUMNS])
                for batch in batches():
                    writer.writerows(_csv_row(r) for r in batch)
        else:
            with pq.ParquetWriter(path, schema) as parquet:
                for batch in batches():
                    columns = list(zip(*batch, strict=True))
                    parquet.write_table(pa.Table.from_arrays(columns, schema=schema))
                if written == 0:
                    parquet.write_table(schema.empty_table())
    return written


def personal_in(row: Row) -> tuple[str, ...]:
    """The personal columns of an exported row that hold a value (a masked or forgotten
    customer's are empty): what an access-log entry for the row names."""
    return tuple(name for name in PERSONAL if row[_PERSONAL_AT[name]] not in (None, ""))


def _csv_row(row: Row) -> list[Any]:
    return ["" if v is None else v.isoformat() if hasattr(v, "isoformat") else v for v in row]
