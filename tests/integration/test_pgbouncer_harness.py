"""The PgBouncer the tests run stays up however much it logs.

It logs two lines per client connection; run in the foreground it writes them to stderr
too, and when stderr was a pipe nobody read, the 64 KiB pipe buffer filled and the
single-threaded bouncer froze on its next log line: the topology test through PgBouncer
"hung after the kills" for that reason alone (tests/integration/support/pgbouncer.py)."""

from __future__ import annotations

import psycopg
import pytest

from tests.integration.support.pgbouncer import running_pgbouncer

pytestmark = pytest.mark.integration

PIPE_BUFFER = 64 * 1024  # Linux's default pipe capacity


def test_the_bouncer_answers_after_logging_more_than_a_pipe_holds(database_url: str) -> None:
    with running_pgbouncer(database_url) as bouncer:
        url = bouncer.url(database_url, application_name="crm-bouncer-log", connect_timeout="5")
        connections = 0
        while len(bouncer.log()) < PIPE_BUFFER + 8 * 1024:
            with psycopg.connect(url, autocommit=True) as conn:  # times out if it froze
                conn.execute("SELECT 1")
            connections += 1
            assert connections < 2000, "the bouncer logs less than expected per connection"
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT 42").fetchone() == (42,)
        pools = bouncer.show(database_url, "POOLS")
    assert any(row[0] != "pgbouncer" for row in pools), pools  # the console answers too
