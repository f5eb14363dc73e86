"""Searches for personal data left behind: every PostgreSQL table, every analytics file,
the Kafka topic. They back the erasure receipt and the erasure tests.

Needles are labelled (``{"email": "ann@example.com"}``): findings name the label and the
place, never the value, so a receipt does not itself leak what was erased. Matching is
case-insensitive and also looks for the JSON-escaped form of each value (how it would
sit inside a JSON document with ``ensure_ascii``).

- Tables: every table of every non-system schema, every column. Text-like columns (and
  anything castable to text: jsonb, arrays) are matched with ILIKE; ``bytea`` columns
  are searched byte-wise for the UTF-8 forms (the event store's ``state`` is bytea).
- Files: every file under a folder, raw bytes; Parquet and DuckDB files are also read
  through DuckDB, since their pages may be compressed (a raw search could miss data).
- Topic: every message of every partition from the beginning, key and value bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers
import psycopg
from psycopg import sql

from streams import kafka_clients
from streams.kafka_clients import PLAINTEXT, KafkaSecurity


@dataclass(frozen=True)
class Finding:
    """Where a labelled needle was found, and how many times (rows, files, messages)."""

    where: str
    label: str
    count: int = 1

    def __str__(self) -> str:
        return f"{self.label} found in {self.where} ({self.count}x)"


def variants(value: str) -> list[str]:
    """The forms a value may take in storage: as is, a phone number also as people write
    it (`phone_forms`), each also JSON-escaped (ASCII only)."""
    forms: list[str] = []
    for form in (value, *phone_forms(value)):
        escaped = json.dumps(form, ensure_ascii=True)[1:-1]
        forms += [f for f in (form, escaped) if f not in forms]
    return forms


def phone_forms(value: str) -> list[str]:
    """A number stored as E.164 (``+8615364918100``) as it is also written: national
    (``15364918100``, ``153 6491 8100``, ``153-6491-8100``), international with spaces or
    dashes, with ``00`` for ``+``. Nothing for a value that is no phone number, and no
    bare national form shorter than 8 digits (it would match too much)."""
    if not value.startswith("+"):
        return []
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return []
    if not phonenumbers.is_possible_number(number):
        return []
    national = phonenumbers.national_significant_number(number)
    spaced = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    forms = [spaced, spaced.replace(" ", "-"), international, international.replace(" ", "-")]
    forms.append(f"00{number.country_code}{national}")
    if len(national) >= 8:
        forms.append(national)
    return [f for f in dict.fromkeys(forms) if f != value]


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# -- PostgreSQL -------------------------------------------------------------------------

_COLUMNS_SQL = """
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'
ORDER BY n.nspname, c.relname, a.attnum
"""

_SKIP_TYPES = ("boolean", "smallint", "integer", "bigint", "numeric", "real", "double precision")


def user_tables(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, table) -> [(column, type)] for every table and materialised view."""
    tables: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, kind in conn.execute(_COLUMNS_SQL).fetchall():
        tables.setdefault((schema, table), []).append((column, kind))
    return tables


def search_database(conninfo: str, needles: Mapping[str, str]) -> list[Finding]:
    """Every row of every table of the database, for every needle (see module docstring)."""
    findings: list[Finding] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for (schema, table), columns in user_tables(conn).items():
            target = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            for column, kind in columns:
                if kind in _SKIP_TYPES or kind.startswith(("timestamp", "date", "uuid")):
                    continue
                for label, value in needles.items():
                    count = _count(conn, target, column, kind, value)
                    if count:
                        findings.append(
                            Finding(f"postgres:{schema}.{table}.{column}", label, count)
                        )
    return findings


def _count(
    conn: psycopg.Connection[Any], target: sql.Composable, column: str, kind: str, value: str
) -> int:
    forms = variants(value)
    col = sql.Identifier(column)
    if kind == "bytea":
        raw = list(dict.fromkeys([f.encode() for f in forms] + [f.lower().encode() for f in forms]))
        condition = sql.SQL(" OR ").join(
            sql.SQL("position({} in {}) > 0").format(sql.Literal(r), col) for r in raw
        )
    else:
        condition = sql.SQL(" OR ").join(
            sql.SQL("{}::text ILIKE {}").format(col, sql.Literal(_like(f))) for f in forms
        )
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE {}").format(target, condition)
    ).fetchone()
    return int(row[0]) if row else 0


# -- files ------------------------------------------------------------------------------


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    if root.is_dir():
        yield from sorted(p for p in root.rglob("*") if p.is_file())


def search_files(root: Path, needles: Mapping[str, str]) -> list[Finding]:
    """Every file under `root`: raw bytes, plus Parquet/DuckDB contents through DuckDB."""
    findings: list[Finding] = []
    for path in _files(root):
        try:
            data = path.read_bytes().lower()
        except OSError:
            continue
        for label, value in needles.items():
            hits = sum(data.count(f.lower().encode()) for f in variants(value))
            if hits:
                findings.append(Finding(f"file:{path}", label, hits))
        if path.suffix == ".parquet":
            findings += _search_parquet(path, needles)
        elif path.suffix == ".duckdb":
            findings += _search_duckdb(path, needles)
    return findings


def _any_column_matches(relation: str, columns: list[str], value: str) -> str:
    conditions = [
        f"CAST({_quote(c)} AS VARCHAR) ILIKE {_duck_literal(_like(f))} ESCAPE '\\'"
        for c in columns
        for f in variants(value)
    ]
    return f"SELECT count(*) FROM {relation} WHERE " + " OR ".join(conditions)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _duck_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _search_parquet(path: Path, needles: Mapping[str, str]) -> list[Finding]:
    import duckdb

    findings = []
    relation = f"read_parquet({_duck_literal(str(path))})"
    with duckdb.connect() as duck:
        columns = [row[0] for row in duck.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        for label, value in needles.items():
            row = duck.execute(_any_column_matches(relation, columns, value)).fetchone()
            if row and row[0]:
                findings.append(Finding(f"parquet:{path}", label, int(row[0])))
    return findings


def _search_duckdb(path: Path, needles: Mapping[str, str]) -> list[Finding]:
    import duckdb

    findings = []
    try:
        duck = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        return [Finding(f"duckdb:{path} (unreadable: {error})", "?", 0)]
    with duck:
        for schema, table, columns in duckdb_tables(duck):
            relation = f"{_quote(schema)}.{_quote(table)}"
            for label, value in needles.items():
                row = duck.execute(_any_column_matches(relation, columns, value)).fetchone()
                if row and row[0]:
                    findings.append(Finding(f"duckdb:{path}:{schema}.{table}", label, int(row[0])))
    return findings


def duckdb_tables(duck: Any) -> list[tuple[str, str, list[str]]]:
    """(schema, table, columns) of every base table in an open DuckDB database."""
    rows = duck.execute(
        "SELECT table_schema, table_name, list(column_name ORDER BY ordinal_position) "
        "FROM information_schema.columns WHERE table_catalog = current_database() "
        "AND (table_schema, table_name) IN (SELECT table_schema, table_name FROM "
        "information_schema.tables WHERE table_type = 'BASE TABLE') "
        "GROUP BY table_schema, table_name ORDER BY 1, 2"
    ).fetchall()
    return [(str(s), str(t), list(c)) for s, t, c in rows]


# -- Kafka ------------------------------------------------------------------------------


def search_topic(
    bootstrap: str,
    topic: str,
    needles: Mapping[str, str],
    *,
    timeout: float = 30.0,
    security: KafkaSecurity = PLAINTEXT,
) -> list[Finding]:
    """Every message of `topic` from the start (no consumer group: nothing is committed)."""
    import time

    from kafka import TopicPartition

    consumer = kafka_clients.consumer(
        bootstrap,
        security=security,
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=1000,
    )
    findings: dict[tuple[int, str], int] = {}
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assigned:
            return []
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        ends = consumer.end_offsets(assigned)
        forms = {label: [f.lower().encode() for f in variants(v)] for label, v in needles.items()}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(consumer.position(tp) >= ends[tp] for tp in assigned):
                break
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for message in messages:
                    blob = (message.key or b"").lower() + b"\n" + (message.value or b"").lower()
                    for label, patterns in forms.items():
                        if any(p in blob for p in patterns):
                            key = (tp.partition, label)
                            findings[key] = findings.get(key, 0) + 1
        else:
            raise TimeoutError(f"could not read all of {topic} within {timeout}s")
    finally:
        consumer.close()
    return [
        Finding(f"kafka:{topic}[{partition}]", label, count)
        for (partition, label), count in sorted(findings.items())
    ]
