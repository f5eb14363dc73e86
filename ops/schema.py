"""Create every table before the platform's processes start.

The gateway, the relay and each worker create what they need on start (IF NOT EXISTS).
Started together on an empty database they would race, and PostgreSQL answers a losing
`CREATE TABLE IF NOT EXISTS` with a duplicate-key error on its catalog, so each part's
DDL runs under an advisory lock (the read side's: `projections.schema.serialize_ddl`;
the chain's and the relay bookmark's their own): processes started by hand or by an
orchestrator wait for each other. `crm up` (and the benchmarks) still create it all
once, first, so that no process it starts waits on another's DDL.
"""

from __future__ import annotations


def prepare_database(database_url: str, master_key: str) -> None:
    """The event store's tables (and its side tables), then the read models', the
    workers' parking lot and the process table."""
    import psycopg

    from bootstrap import open_store
    from projections.reader_rights import reader_rights
    from projections.schema import ensure_all
    from streams.parking import create_parking
    from streams.processes import create_processes

    open_store(database_url, master_key, kind="schema").close()
    with psycopg.connect(database_url) as conn, conn.transaction():
        ensure_all(conn)
        create_parking(conn)
        create_processes(conn)
        reader_rights(conn)
