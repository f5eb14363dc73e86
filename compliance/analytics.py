"""A customer's rows in the analytics files (Parquet, DuckDB catalog): export and scrub.

The platform's own analytics datasets (`projections.analytics`) copy no personal field
at all, so forgetting needs no rewrite there. Anything else under the analytics folder
(an analyst's extracts, a DuckDB file of their own) is held to this contract for
erasure to reach it (docs/compliance.md):

- every analytics row about a customer carries the customer's id in a column named
  ``customer_id`` (or ``subject_id`` / ``subject``);
- personal data, if kept at all, sits in top-level columns named after the event field
  (`personal_columns`: ``name``, ``email``, ``summary``…), never inside a JSON blob.

`scrub` does the same from the outside (``crm audit forget``): Parquet files holding the
customer are rewritten with the personal columns nulled, and a DuckDB database is
updated and then copied to a fresh file, so no freed page keeps the old values.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from uuid import UUID

from compliance.audit import plain
from projections.analytics.parquet import LOCK_NAME, folder_lock

SUBJECT_COLUMNS = ("customer_id", "subject_id", "subject")


def personal_columns() -> frozenset[str]:
    """Column names that hold personal data: every event's ``PERSONAL`` fields, and the
    read models' derived ones."""
    from events import ALL_EVENTS

    names = {name for cls in ALL_EVENTS for name in cls.PERSONAL}
    return frozenset(names | {"address", "escalation_reason"})


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _files(root: Path, suffix: str) -> list[Path]:
    return sorted(root.rglob(f"*{suffix}")) if root.is_dir() else []


def _subject_column(columns: Iterable[str]) -> str | None:
    present = set(columns)
    return next((c for c in SUBJECT_COLUMNS if c in present), None)


def _in_ids(column: str, ids: Iterable[UUID]) -> str:
    values = ", ".join(_lit(str(i)) for i in sorted(ids, key=str))
    return f"CAST({_q(column)} AS VARCHAR) IN ({values})"


def export_rows(root: Path, customer_ids: Iterable[UUID]) -> dict[str, list[dict[str, Any]]]:
    """Rows about the customers, by place (``parquet:<file>``, ``duckdb:<file>:<table>``)."""
    import duckdb

    ids = set(customer_ids)
    found: dict[str, list[dict[str, Any]]] = {}
    if not ids:
        return found
    with duckdb.connect() as duck:
        for path in _files(root, ".parquet"):
            relation = f"read_parquet({_lit(str(path))})"
            columns = [r[0] for r in duck.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
            subject = _subject_column(columns)
            if subject is not None:
                rows = _dicts(duck, f"SELECT * FROM {relation} WHERE {_in_ids(subject, ids)}")
                if rows:
                    found[f"parquet:{path.relative_to(root)}"] = rows
    for path in _files(root, ".duckdb"):
        with duckdb.connect(str(path), read_only=True) as duck:
            for schema, table, columns in _tables(duck):
                subject = _subject_column(columns)
                if subject is None:
                    continue
                relation = f"{_q(schema)}.{_q(table)}"
                rows = _dicts(duck, f"SELECT * FROM {relation} WHERE {_in_ids(subject, ids)}")
                if rows:
                    found[f"duckdb:{path.relative_to(root)}:{schema}.{table}"] = rows
    return found


def _dicts(duck: Any, query: str) -> list[dict[str, Any]]:
    cursor = duck.execute(query)
    names = [d[0] for d in cursor.description]
    return [{n: plain(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def _tables(duck: Any) -> list[tuple[str, str, list[str]]]:
    from compliance.residue import duckdb_tables

    return duckdb_tables(duck)


def scrub(root: Path, customer_id: UUID) -> list[str]:
    """Null the personal columns of the customer's rows everywhere; returns what changed.

    A dataset's folder is scrubbed holding its compaction lock (`folder_lock`), and its
    files are listed inside it: the analytics worker folds and deletes parts meanwhile,
    and a part gone between the listing and its rewrite ended the erasure half-done."""
    changed: list[str] = []
    personal = personal_columns()
    folders = sorted({path.parent for path in _files(root, ".parquet")})
    for folder in folders:
        held = folder_lock(folder) if (folder / LOCK_NAME).exists() else nullcontext()
        with held:
            for path in sorted(folder.glob("*.parquet")):
                if _scrub_parquet(path, customer_id, personal):
                    changed.append(f"parquet:{path.relative_to(root)}")
    for path in _files(root, ".duckdb"):
        if _scrub_duckdb(path, customer_id, personal):
            changed.append(f"duckdb:{path.relative_to(root)}")
    return changed


def _scrub_parquet(path: Path, customer_id: UUID, personal: frozenset[str]) -> bool:
    import duckdb

    with duckdb.connect() as duck:
        relation = f"read_parquet({_lit(str(path))})"
        columns = [r[0] for r in duck.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        subject = _subject_column(columns)
        targets = [c for c in columns if c in personal]
        if subject is None or not targets:
            return False
        match = _in_ids(subject, [customer_id])
        hit = duck.execute(f"SELECT count(*) FROM {relation} WHERE {match}").fetchone()
        if not hit or not hit[0]:
            return False
        replaced = ", ".join(
            f"CASE WHEN {match} THEN NULL ELSE {_q(c)} END AS {_q(c)}" for c in targets
        )
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        duck.execute(
            f"COPY (SELECT * REPLACE ({replaced}) FROM {relation}) "
            f"TO {_lit(str(temporary))} (FORMAT parquet)"
        )
    os.replace(temporary, path)
    return True


def _scrub_duckdb(path: Path, customer_id: UUID, personal: frozenset[str]) -> bool:
    """Update in place, then copy into a fresh file: freed pages may keep old values."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as duck:
        # Read-only first: the catalog is open read-only by analysts while the platform
        # runs, and a read-write open would fail on their lock for nothing to change.
        if not any(
            _subject_column(columns) and any(c in personal for c in columns)
            for _, _, columns in _tables(duck)
        ):
            return False
    touched = False
    with duckdb.connect(str(path)) as duck:
        for schema, table, columns in _tables(duck):
            subject = _subject_column(columns)
            targets = [c for c in columns if c in personal]
            if subject is None or not targets:
                continue
            sets = ", ".join(f"{_q(c)} = NULL" for c in targets)
            relation = f"{_q(schema)}.{_q(table)}"
            match = _in_ids(subject, [customer_id])
            hit = duck.execute(f"SELECT count(*) FROM {relation} WHERE {match}").fetchone()
            if hit and hit[0]:
                duck.execute(f"UPDATE {relation} SET {sets} WHERE {match}")
                touched = True
        if not touched:
            return False
        fresh = path.with_name(f".{path.stem}.{os.getpid()}.compact.duckdb")
        fresh.unlink(missing_ok=True)
        source = duck.execute("SELECT current_database()").fetchone()
        assert source is not None
        duck.execute(f"ATTACH {_lit(str(fresh))} AS crm_compact")
        duck.execute(f"COPY FROM DATABASE {_q(str(source[0]))} TO crm_compact")
        duck.execute("DETACH crm_compact")
    os.replace(fresh, path)
    Path(str(path) + ".wal").unlink(missing_ok=True)
    return True
