"""The shadow schema a full rebuild fills, and the short transaction that puts it in service.

Every read-model table is created again, empty and with its indexes, in the schema
`rm_rebuild` (`create_all` run with that search_path), so the projections' own SQL
(unqualified table names) writes there unchanged. The serving tables are not touched
until the swap: a crash anywhere before it leaves them as they were, and the next run
drops the half-filled shadow and starts over.

The swap takes the serving checkpoints table first (the lock a live processor's batch
takes first too: processors wait, readers do not), applies to the shadow whatever was
recorded since the rebuild's last pass, then replaces each serving table with its
shadow (DROP + SET SCHEMA, catalog-only) and copies the grants over. A processor
blocked meanwhile resolves the table names again once it gets the lock and continues
on the new tables, whose checkpoints include everything up to the swap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from psycopg import Connection, sql

from projections.counts import TRIGGERS_DDL
from projections.reader_rights import reader_rights
from projections.schema import ALL_TABLES, create_all, missing_tables

SHADOW: Final = "rm_rebuild"
ADVISORY_LOCK: Final = 0x636D725F72656275  # "crm_rebu": one full rebuild at a time
LOCK_TIMEOUT: Final = "5s"
"""How long the swap waits for a table lock before giving up (and trying again): a
long-running reader must not make every other reader queue behind the swap."""


class RebuildBusy(RuntimeError):
    """Another full rebuild holds the rebuild lock."""


def take_rebuild_lock(conn: Connection[Any]) -> None:
    """Hold the session's rebuild lock (released when the connection closes)."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK]).fetchone()
    if not row or not row[0]:
        raise RebuildBusy("another `crm projections rebuild` is running on this database")


def serving_schema(conn: Connection[Any]) -> str:
    row = conn.execute("SELECT current_schema()").fetchone()
    if not row or not row[0]:
        raise RuntimeError("no current schema: set search_path for the read models")
    return str(row[0])


def prepare_shadow(conn: Connection[Any]) -> None:
    """An empty shadow schema with every read-model table (a crashed run's one dropped)."""
    with conn.transaction():
        if missing_tables(conn):  # serving tables exist, so the swap has something to lock
            create_all(conn)  # (not when they do: its DDL would lock tables being written)
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SHADOW)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SHADOW)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(SHADOW)))
        create_all(conn)


def drop_shadow(conn: Connection[Any]) -> None:
    with conn.transaction():
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SHADOW)))


def use_shadow(conn: Connection[Any]) -> None:
    """Point this transaction's unqualified table names at the shadow (and only there:
    a table missing from it is an error, never a silent write to the serving one)."""
    conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(SHADOW)))


_SIZES_SQL: Final = """
SELECT c.relname, pg_relation_size(c.oid) FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = ANY(%s)
"""


def analyze_shares(conn: Connection[Any], parts: int) -> list[list[str]]:
    """Every shadow table, in `parts` shares to ANALYZE side by side (`split_by_size`)."""
    sizes = dict(conn.execute(_SIZES_SQL, [SHADOW, list(ALL_TABLES)]).fetchall())
    return split_by_size(ALL_TABLES, sizes, parts)


def split_by_size(tables: Sequence[str], sizes: Mapping[str, int], parts: int) -> list[list[str]]:
    """`tables` in `parts` shares of about equal size: largest first, each to the smallest
    share so far. The same sizes give the same shares in every process."""
    shares: list[list[str]] = [[] for _ in range(parts)]
    totals = [0] * parts
    for table in sorted(tables, key=lambda t: (-sizes.get(t, 0), t)):
        smallest = totals.index(min(totals))
        shares[smallest].append(table)
        totals[smallest] += sizes.get(table, 0)
    return shares


def analyze_shadow(conn: Connection[Any], tables: Sequence[str]) -> None:
    """Statistics for shadow tables just filled by COPY. Autovacuum has not seen them
    (and never does on a server with it off), so PostgreSQL planned blind: the
    materialize round hash-joined all 270k touch counts for each 2,000 profiles at 1M
    events, and after the swap every read would be planned the same way. Payload
    columns are skipped (`projections.schema.PAYLOAD_COLUMNS`)."""
    if tables:
        targets = sql.SQL(", ").join(sql.Identifier(SHADOW, t) for t in tables)
        conn.execute(sql.SQL("ANALYZE {}").format(targets))


GRANTS_SQL: Final = """
SELECT a.privilege_type,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(c.relacl) AS a
LEFT JOIN pg_roles AS r ON r.oid = a.grantee
WHERE n.nspname = %s AND c.relname = %s AND a.grantee <> c.relowner
"""


def _grants(conn: Connection[Any], schema: str, table: str) -> list[sql.Composed]:
    """GRANTs that give the new table what the serving one allowed (e.g. crm_reader)."""
    rows = conn.execute(GRANTS_SQL, [schema, table]).fetchall()
    return [
        sql.SQL("GRANT {} ON {} TO {}").format(
            sql.SQL(privilege), sql.Identifier(schema, table), sql.SQL(grantee)
        )
        for privilege, grantee in rows
    ]


def swap(conn: Connection[Any], catch_up: Callable[[Connection[Any]], int]) -> int:
    """Catch the shadow up and put it in service, in one transaction; returns what
    `catch_up` (run with the checkpoints locked, search_path on the shadow) returned.

    Raises `psycopg.errors.LockNotAvailable` when a lock is not had within
    `LOCK_TIMEOUT`; nothing changed then, and the caller may try again.
    """
    with conn.transaction():
        serving = serving_schema(conn)
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        checkpoints = sql.Identifier(serving, "rm_applied")
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(checkpoints))
        use_shadow(conn)
        caught = catch_up(conn)
        tables = [sql.Identifier(serving, t) for t in ALL_TABLES]
        conn.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.SQL(", ").join(tables))
        )
        grants = [g for t in ALL_TABLES for g in _grants(conn, serving, t)]
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.SQL(", ").join(tables)))
        for table in ALL_TABLES:
            conn.execute(
                sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                    sql.Identifier(SHADOW, table), sql.Identifier(serving)
                )
            )
        for grant in grants:
            conn.execute(grant)
        reader_rights(conn, serving)  # column grants are not in the tables' ACLs copied
        # The moved tables' triggers still call functions in the shadow schema, which is
        # dropped next (CASCADE would take the triggers with it): re-point them at
        # functions of the serving schema first.
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(serving)))
        conn.execute(TRIGGERS_DDL)
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SHADOW)))
    return caught
