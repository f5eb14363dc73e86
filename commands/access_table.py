"""The ``crm_access_log`` table's DDL, created with the event store's tables.

Only the table lives here, because the recorder creates every table of the store in one
place at start-up; what writes and reads it (`AccessLog`, `append_access`,
`access_history`) is the compliance staff's and lives in `compliance.access_log`.
"""

from __future__ import annotations

from psycopg import sql

ACCESS_LOG = "crm_access_log"


def access_log_statements(schema: str) -> list[sql.Composed]:
    """Create the access log and its (customer, time) index, if missing."""
    table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(ACCESS_LOG))
    return [
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            "id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), "
            "actor text NOT NULL, role text NOT NULL, customer_id uuid NOT NULL, "
            "fields text[] NOT NULL, operation text NOT NULL)"
        ).format(table),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (customer_id, at)").format(
            sql.Identifier(f"{ACCESS_LOG}_customer_at"), table
        ),
    ]
