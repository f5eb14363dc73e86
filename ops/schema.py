"""Create every table before the platform's processes start.

The gateway, the relay and each worker create what they need on start (IF NOT EXISTS),
but started together on an empty database they race, and PostgreSQL answers a losing
`CREATE TABLE IF NOT EXISTS` with a duplicate-key error on its catalog: one process would
die at every first start. So `crm up` (and the benchmarks) create it all once, first.
"""

from __future__ import annotations


def prepare_database(database_url: str, master_key: str) -> None:
    """The event store's tables (and its side tables), then the read models', the
    workers' parking lot and the process table."""
    import psycopg

    from bootstrap import open_store
    from projections.schema import ensure_all
    from streams.parking import create_parking
    from streams.processes import create_processes

    open_store(database_url, master_key, kind="schema").close()
    with psycopg.connect(database_url) as conn, conn.transaction():
        ensure_all(conn)
        create_parking(conn)
        create_processes(conn)
