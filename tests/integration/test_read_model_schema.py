"""A worker's start on a database whose read models are in place takes no table lock
(`projections.schema.ensure_all`): a worker restarted while another applies must not
queue ACCESS EXCLUSIVE locks that the readers then wait behind, or deadlock with a live
batch. Where the DDL has not run (a new database, a changed schema, a dropped table),
it runs. Real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from commands.application import CrmApplication
from projections.schema import SCHEMA_DIGEST, missing_tables
from streams.rebuild import rebuild_in_place
from streams.sink import ReadModelSink

pytestmark = pytest.mark.integration


def start_sink(app: CrmApplication, database_url: str) -> None:
    """A worker's sink started and closed, giving up on any lock after 2 s."""
    ReadModelSink(app, f"{database_url} options='-c lock_timeout=2000'").close()


def test_a_worker_starts_beside_a_live_batch_without_locking_its_tables(
    app: CrmApplication, database_url: str
) -> None:
    start_sink(app, database_url)  # the first start creates everything
    with psycopg.connect(database_url) as batch:
        batch.execute("LOCK TABLE rm_customers, rm_applied IN ROW EXCLUSIVE MODE")
        start_sink(app, database_url)  # LockNotAvailable here if it ran DDL on them
        batch.rollback()


def test_a_partial_rebuild_beside_a_live_batch_takes_no_access_exclusive_lock(
    app: CrmApplication, database_url: str
) -> None:
    # `crm projections rebuild customers` while a worker applies: its create_all took
    # ACCESS EXCLUSIVE on rm_customers and deadlocked with the live batch.
    start_sink(app, database_url)
    with psycopg.connect(database_url) as batch:
        batch.execute("LOCK TABLE rm_customers IN ROW EXCLUSIVE MODE")
        rebuild_in_place(app, f"{database_url} options='-c lock_timeout=2000'", ["customers"])
        batch.rollback()


def test_the_ddl_runs_again_where_a_table_is_missing_or_the_schema_changed(
    app: CrmApplication, database_url: str
) -> None:
    start_sink(app, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE rm_funnel")
        assert missing_tables(conn) == ["rm_funnel"]
        start_sink(app, database_url)
        assert missing_tables(conn) == []
        # Written by an older version (another DDL): an index it lacks is made.
        conn.execute("DROP INDEX rm_customers_valid_until")
        conn.execute("UPDATE crm_read_model_schema SET digest = 'older'")
        start_sink(app, database_url)
        found = conn.execute("SELECT to_regclass('rm_customers_valid_until')").fetchone()
        assert found is not None and found[0] is not None
        mark = conn.execute("SELECT digest FROM crm_read_model_schema").fetchall()
        assert mark == [(SCHEMA_DIGEST,)]


def test_checkpoint_pages_keep_room_for_their_next_versions(
    app: CrmApplication, database_url: str
) -> None:
    # Checkpoints are rewritten by every batch: half of each page stays free (HOT updates),
    # also on a table an older version made without the setting.
    start_sink(app, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        options = "SELECT reloptions FROM pg_class WHERE oid = 'rm_applied'::regclass"
        assert conn.execute(options).fetchone() == (["fillfactor=50"],)
        conn.execute("ALTER TABLE rm_applied RESET (fillfactor)")
        conn.execute("UPDATE crm_read_model_schema SET digest = 'older'")
        start_sink(app, database_url)
        assert conn.execute(options).fetchone() == (["fillfactor=50"],)


def test_a_read_model_from_before_the_touch_counters_gains_them_in_place(
    app: CrmApplication, database_url: str
) -> None:
    start_sink(app, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO rm_touches (position, customer_id, channel, direction, occurred_at)"
            " SELECT n, c, ch, 'OUTBOUND', '2025-01-01'::timestamptz + n * interval '1 hour'"
            " FROM generate_series(1, 9) AS n,"
            " LATERAL (SELECT ('00000000-0000-0000-0000-00000000000' || (n % 2))::uuid) AS x(c),"
            " LATERAL (SELECT CASE WHEN n % 3 = 0 THEN 'EMAIL' ELSE 'PHONE' END) AS y(ch)"
        )
        conn.execute("DROP TABLE rm_touch_counts")
        start_sink(app, database_url)
        counters = conn.execute(
            "SELECT customer_id::text, channel, touches, last_at FROM rm_touch_counts ORDER BY 1, 2"
        ).fetchall()
    zero, one = "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001"
    at = [datetime(2025, 1, 1, hour, tzinfo=UTC) for hour in range(10)]
    assert counters == [
        (zero, "EMAIL", 1, at[6]),
        (zero, "PHONE", 3, at[8]),
        (one, "EMAIL", 2, at[9]),
        (one, "PHONE", 3, at[7]),
    ]


PREFIX_INDEXES_SQL = """
SELECT a.indexrelid::regclass::text, b.indexrelid::regclass::text
FROM pg_index AS a JOIN pg_index AS b
  ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid
 AND a.indnkeyatts < b.indnkeyatts
 AND (b.indkey::int2[])[0:a.indnkeyatts - 1] = (a.indkey::int2[])[0:a.indnkeyatts - 1]
 AND NOT a.indisunique AND a.indpred IS NULL AND a.indexprs IS NULL
JOIN pg_class AS am ON am.oid = a.indexrelid JOIN pg_class AS bm ON bm.oid = b.indexrelid
WHERE a.indrelid = 'rm_customers'::regclass AND am.relam = bm.relam
"""


def test_no_profile_index_is_the_prefix_of_another(app: CrmApplication, database_url: str) -> None:
    # Every profile write (each touch's, each purchase's) maintains every index of
    # rm_customers; one whose columns lead another's serves no query the longer one can't.
    start_sink(app, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute(PREFIX_INDEXES_SQL).fetchall() == []
        conn.execute("CREATE INDEX rm_customers_lifecycle ON rm_customers (lifecycle_stage)")
        assert conn.execute(PREFIX_INDEXES_SQL).fetchall() == [
            ("rm_customers_lifecycle", "rm_customers_lifecycle_created")
        ]
        conn.execute("UPDATE crm_read_model_schema SET digest = 'older'")
        start_sink(app, database_url)  # an older read model loses it on the next start
        assert conn.execute(PREFIX_INDEXES_SQL).fetchall() == []
