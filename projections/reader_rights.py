"""What the analysts' database role may read: everything but personal data.

With the embedded PostgreSQL, `crm_reader` (SELECT only) is the analysts' way into the
database (README). An analyst sees no personal field over the API (docs/roles.md), so
the role may not either: the tables that hold keys, sealed payloads or other people's
reads are closed to it (`CLOSED_TABLES`), and the read models' personal columns are left
out of its column grants (`PERSONAL_COLUMNS`). Every other table is readable whole.

Fail closed: nothing is granted by default to a table created later; `reader_rights`
runs whenever the schema is prepared (every `crm up`), when the embedded server is
provisioned, and when a rebuild swaps new tables in. On a server without the role (an
external PostgreSQL) it does nothing.
"""

from __future__ import annotations

from typing import Any, Final

from psycopg import Connection, sql

READER_ROLE: Final = "crm_reader"

CLOSED_TABLES: Final = frozenset(
    {
        "crm_customer_keys",  # wrapped data keys
        "crm_email_reservations",  # email hashes: a dictionary attack away from the emails
        "crm_event_envelopes",  # Kafka payloads, sealed fields included
        "crm_parked",  # the same, parked
        "crm_idempotency",  # stored mutation results
        "crm_master_key_check",
        "crm_access_log",  # who read whose personal data
        "stored_events",  # the event store: analysts read the analytics files instead
        "stored_snapshots",
    }
)

PERSONAL_COLUMNS: Final[dict[str, frozenset[str]]] = {
    "rm_customers": frozenset(
        {
            *("name", "email", "phone", "address"),
            *("name_pinyin", "name_initials", "phone_digits"),  # search keys made of them
            *("stage_history", "needs", "surveys", "custom_texts"),  # free texts
        }
    ),
    "rm_touches": frozenset({"summary", "outcome"}),
    "rm_complaints": frozenset({"description", "escalation_reason", "resolution"}),
    "rm_tasks": frozenset({"title", "outcome", "reason"}),
    "rm_timeline": frozenset({"summary"}),
}
"""Per read-model table, the columns with personal values (what an erasure scrubs)."""

_TABLES: Final = """
SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.relname
"""
_COLUMNS: Final = """
SELECT attname FROM pg_attribute
WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
"""


def reader_rights(conn: Connection[Any], schema: str = "public") -> None:
    """Give `crm_reader` exactly its rights on every table of `schema` (run by the tables'
    owner or a superuser); nothing when the role does not exist."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [READER_ROLE])
    if exists.fetchone() is None:
        return
    reader = sql.Identifier(READER_ROLE)
    for (table,) in conn.execute(_TABLES, [schema]).fetchall():
        name = sql.Identifier(schema, table)
        # Revoking on the table takes its column grants too: each run starts from nothing.
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(name, reader))
        if table in CLOSED_TABLES:
            continue
        hidden = PERSONAL_COLUMNS.get(table)
        if hidden is None:
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(name, reader))
            continue
        found = conn.execute(_COLUMNS, [name.as_string(conn)]).fetchall()
        columns = [column for (column,) in found if column not in hidden]
        conn.execute(
            sql.SQL("GRANT SELECT ({}) ON {} TO {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), name, reader
            )
        )
