"""Connections through a transaction-pooling PgBouncer (or another pooler of that kind).

In transaction pooling, each transaction may run on another server connection. So a
statement psycopg prepared (after 5 runs of the same query on a connection, by default)
is unknown on the next server connection: "prepared statement "_pg3_0" does not exist".
PgBouncer 1.21+ can track them (`max_prepared_statements`); Debian 12 ships 1.18, so the
platform turns preparing off in every process when `CRM_DATABASE_POOLER=transaction`
(`ops` calls `set_prepared_statements(False)` once, before any connection is made).

Session state does not survive either: the store's DDL lock is transaction-scoped
(`commands.application._creating_alone`); the relay's session lock and LISTEN use
`CRM_DATABASE_DIRECT_URL`, the server past the pooler. See docs/deployment.md.
"""

from __future__ import annotations

import psycopg

DEFAULT_THRESHOLD = 5
_CONNECTS = (psycopg.Connection.connect, psycopg.AsyncConnection.connect)


def set_prepared_statements(enabled: bool) -> None:
    """Whether psycopg connections made from now on in this process prepare statements.

    psycopg has a per-connection `prepare_threshold`, a keyword of `connect` (default 5)
    that every connection gets, but no process-wide default; the platform connects in many
    places (pools, the relay, sinks, verbs), so this one switch sets that keyword's default
    for all of them. tests/integration/test_external_postgres.py proves it through a real
    PgBouncer.
    """
    for connect in _CONNECTS:
        defaults = connect.__func__.__kwdefaults__  # type: ignore[union-attr]
        defaults["prepare_threshold"] = DEFAULT_THRESHOLD if enabled else None


def prepared_statements() -> bool:
    defaults = psycopg.Connection.connect.__func__.__kwdefaults__  # type: ignore[attr-defined]
    return defaults["prepare_threshold"] is not None
