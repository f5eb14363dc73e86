"""Parquet files of one dataset: atomic micro-batch parts and their compaction.

A part is written under a dot-name (which the ``part-*`` glob never matches), fsynced,
then renamed into place, so a reader sees a whole file or none. Compaction folds the
parts into ``compact.parquet`` (deduplicated the same way the catalog views read them)
and removes the parts it folded; it holds an exclusive `flock` on the dataset folder so
two workers never compact at once.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from projections.analytics.layout import COMPACT_NAME, EMPTY_PART, PART_PREFIX, AnalyticsLayout
from projections.analytics.schema import Dataset, datasets
from projections.analytics.sql import literal, literal_list

COMPRESSION = "zstd"


def _temp_name(target: Path) -> Path:
    """Beside `target`, under a dot-name no glob of the catalog matches."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")


def _publish(temp: Path, target: Path) -> None:
    """Make a finished temp file durable, put it in place in one rename, and make the
    rename durable too (fsync of the folder): only then may the worker ack its batch."""
    with open(temp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _write_atomically(table: pa.Table, target: Path) -> None:
    temp = _temp_name(target)
    pq.write_table(table, temp, compression=COMPRESSION)
    _publish(temp, target)


def ensure_datasets(layout: AnalyticsLayout) -> None:
    """Create every dataset folder with its never-deleted empty part (so globs match)."""
    for ds in datasets():
        folder = layout.dataset(ds.name)
        folder.mkdir(parents=True, exist_ok=True)
        empty = folder / EMPTY_PART
        if not empty.exists() or pq.read_schema(empty) != ds.schema:
            _write_atomically(ds.schema.empty_table(), empty)
        if not layout.compact_file(ds.name).exists():
            _write_atomically(ds.schema.empty_table(), layout.compact_file(ds.name))


def _typed(uuid_columns: Sequence[str], row: dict[str, Any]) -> dict[str, Any]:
    """Rows read back through DuckDB carry UUIDs as text; Arrow wants them as UUIDs."""
    for name in uuid_columns:
        value = row.get(name)
        if isinstance(value, str):
            row[name] = uuid.UUID(value)
    return row


def write_part(layout: AnalyticsLayout, ds: Dataset, rows: Sequence[dict[str, Any]]) -> Path | None:
    """One micro-batch as a new part; named by its highest position so files sort by age."""
    if not rows:
        return None
    uuid_columns = [f.name for f in ds.schema if isinstance(f.type, pa.UuidType)]
    table = pa.Table.from_pylist([_typed(uuid_columns, row) for row in rows], schema=ds.schema)
    highest = max(int(r.get("position") or r.get("last_position") or 0) for r in rows)
    name = f"{PART_PREFIX}{highest:020d}-{uuid.uuid4().hex[:12]}.parquet"
    target = layout.dataset(ds.name) / name
    _write_atomically(table, target)
    return target


def parts(layout: AnalyticsLayout, ds: Dataset) -> list[Path]:
    folder = layout.dataset(ds.name)
    return sorted(p for p in folder.glob(f"{PART_PREFIX}*.parquet") if p.name != EMPTY_PART)


@contextmanager
def dataset_lock(layout: AnalyticsLayout, ds: Dataset, *, shared: bool = False) -> Iterator[None]:
    """Compaction holds it exclusively (it deletes the parts it folded); a worker reading
    the files back holds it shared, so two workers sharing the folder never read a part
    the other is deleting; so do the analytics verbs while they query, and an erasure's
    scrub holds it exclusively while it rewrites the folder's files."""
    with folder_lock(layout.dataset(ds.name), shared=shared):
        yield


@contextmanager
def reading(layout: AnalyticsLayout) -> Iterator[None]:
    """Every dataset's lock, shared, while an analytics verb queries the catalog: no part
    is folded away under its query (it failed with "No files found" now and then)."""
    with ExitStack() as held:
        for ds in datasets():
            if layout.dataset(ds.name).is_dir():
                held.enter_context(dataset_lock(layout, ds, shared=True))
        yield


LOCK_NAME = ".compaction.lock"


@contextmanager
def folder_lock(folder: Path, *, shared: bool = False) -> Iterator[None]:
    """`dataset_lock` by the dataset's folder (what a caller walking files has)."""
    with open(folder / LOCK_NAME, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def dedupe_sql(ds: Dataset, files: Sequence[Path]) -> str:
    """The rows of `files` as the catalog reads them: one per key (newest for snapshots)."""
    source = f"read_parquet({literal_list(files)}, union_by_name = true)"
    key = ", ".join(ds.dedupe_key)
    order = "last_position DESC" if ds.snapshot else key
    return (
        f"SELECT * FROM {source} "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {order}) = 1"
    )


def compact(layout: AnalyticsLayout, ds: Dataset, min_parts: int = 1) -> int:
    """Fold the parts into the compact file; returns how many parts were folded."""
    with dataset_lock(layout, ds):
        folded = parts(layout, ds)
        if len(folded) < min_parts:
            return 0
        compact_file = layout.compact_file(ds.name)
        # Every file, the current schema's empty part included. A part written since
        # `folded` was listed is folded too but stays until the next compaction:
        # reading a row twice is what the deduplication is for.
        inputs = dataset_files(layout, ds)
        columns = ", ".join(ds.schema.names)
        order = ", ".join(ds.dedupe_key)
        temp = _temp_name(compact_file)
        with duckdb.connect() as con:
            # DuckDB writes the file itself: UUIDs keep their Parquet logical type.
            con.execute(
                f"COPY (SELECT {columns} FROM ({dedupe_sql(ds, inputs)}) ORDER BY {order}) "
                f"TO {literal(temp)} (FORMAT parquet, COMPRESSION {COMPRESSION})"
            )
        _publish(temp, compact_file)
        for part in folded:
            part.unlink(missing_ok=True)
        return len(folded)


def compact_all(layout: AnalyticsLayout, min_parts: int = 1) -> dict[str, int]:
    return {ds.name: compact(layout, ds, min_parts) for ds in datasets()}


def dataset_files(layout: AnalyticsLayout, ds: Dataset) -> list[Path]:
    """Every file the catalog reads for `ds` right now (compact first).

    The empty part comes last: it has no rows but the current schema, so a column added
    since the other files were written reads as NULL instead of failing the query.
    """
    compact_file = layout.compact_file(ds.name)
    empty = layout.dataset(ds.name) / EMPTY_PART
    return (
        ([compact_file] if compact_file.exists() else [])
        + parts(layout, ds)
        + ([empty] if empty.exists() else [])
    )


__all__ = [
    "COMPACT_NAME",
    "compact",
    "compact_all",
    "dataset_files",
    "dedupe_sql",
    "ensure_datasets",
    "parts",
    "write_part",
]
