"""Exact, cheap list totals: per-dimension counters of rm_customers, kept by the database.

`rm_customer_counts(dimension, value, n)` holds how many rm_customers rows have each
value of each filterable dimension (``all`` counts every row). Statement-level triggers
on rm_customers fold the before/after rows of every INSERT, UPDATE and DELETE (COPY
included) into the counters in the writing transaction, set-based and in key order, so
every write path (handlers, materialization, batching, rebuild) keeps them exact and no
path can forget to. Rows whose count reaches zero are deleted, so the table is a pure
function of rm_customers (two builds of the same events compare equal).

Lists leave merged duplicates out (`projections.membership.is_duplicate`: the link
counts once the survivor's row exists, whatever order the partitions arrived in). The
counters count only rows with ``merged_into IS NULL`` (row-local, so exact and free of
races between partitions). That differs from the list's rule only while a merge is
half-applied: the duplicate's side is in (``merged_into`` set) but the survivor's row
is not yet, or the survivor's side created the link before the duplicate's row got
``merged_into``. Either way one of the link's two positions is still NULL, so a read
adds the difference over those incomplete links only (a partial index on rm_merges):
none in a settled read model, whatever the number of merges.

Exact by counter: no filter, or exactly one of lifecycle stage, tier, pipeline stage,
owner, region or tag. Any other combination (two or more dimensions, or `text`) is an
exact ``count(*)`` over the same conditions as the page, using the dimension indexes,
so its cost grows with the number of matching customers.
"""

from __future__ import annotations

from typing import Any, Final

from psycopg import Connection, sql

from projections.customer_list import filter_conditions, given
from projections.views import CustomerFilter

COUNTED: Final = ("lifecycle_stage", "tier", "stage", "owner", "region", "tag")
"""The filter fields with a counter; `tag` counts each distinct tag of a row once."""

COUNTS_DDL: Final = """
CREATE TABLE IF NOT EXISTS rm_customer_counts (
    dimension text NOT NULL,
    value text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (dimension, value)
)"""

_DELTA_SQL: Final = """
WITH changed AS ({changed}),
deltas AS (
    SELECT x.dimension, x.value, sum(r.sign)::bigint AS n
    FROM changed AS r CROSS JOIN LATERAL (VALUES
        ('all', ''), ('lifecycle_stage', r.lifecycle_stage), ('tier', r.tier),
        ('stage', r.stage), ('owner', r.owner), ('region', r.region)
    ) AS x(dimension, value)
    WHERE x.value IS NOT NULL
    GROUP BY 1, 2
    UNION ALL
    SELECT 'tag', t.tag, sum(r.sign)::bigint
    FROM changed AS r CROSS JOIN LATERAL (SELECT DISTINCT unnest(r.tags)) AS t(tag)
    WHERE t.tag IS NOT NULL
    GROUP BY 1, 2
),
folded AS (
    INSERT INTO rm_customer_counts AS k (dimension, value, n)
    SELECT dimension, value, n FROM deltas WHERE n <> 0 ORDER BY dimension, value
    ON CONFLICT (dimension, value) DO UPDATE SET n = k.n + excluded.n
    RETURNING k.dimension, k.value, k.n
)
SELECT array_agg(dimension), array_agg(value) INTO dims, vals FROM folded WHERE n = 0;
IF dims IS NOT NULL THEN
    DELETE FROM rm_customer_counts AS k USING unnest(dims, vals) AS e(dimension, value)
    WHERE k.n = 0 AND k.dimension = e.dimension AND k.value = e.value;
END IF"""
"""Rows in key order: two writers lock counters in the same order (no deadlock). Emptied
counters are deleted in a second statement (a statement does not see its own CTE's
writes); only rows this transaction already locked."""

_COLUMNS: Final = "lifecycle_stage, tier, stage, owner, region, tags"
_UNMERGED: Final = "WHERE merged_into IS NULL"
_CHANGED: Final = {
    "insert": f"SELECT 1 AS sign, {_COLUMNS} FROM new_rows {_UNMERGED}",
    "delete": f"SELECT -1 AS sign, {_COLUMNS} FROM old_rows {_UNMERGED}",
    "update": f"SELECT -1 AS sign, {_COLUMNS} FROM old_rows {_UNMERGED}"
    f" UNION ALL SELECT 1, {_COLUMNS} FROM new_rows {_UNMERGED}",
}
_REFERENCING: Final = {
    "insert": "NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def _trigger_ddl(operation: str) -> str:
    name = f"rm_customer_counts_{operation}"
    body = _DELTA_SQL.format(changed=_CHANGED[operation])
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE dims text[]; vals text[];
BEGIN
{body};
RETURN NULL;
END $fn$;
CREATE OR REPLACE TRIGGER {name} AFTER {operation.upper()} ON rm_customers
REFERENCING {_REFERENCING[operation]} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"""


TRUNCATE_DDL: Final = """
CREATE OR REPLACE FUNCTION rm_customer_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
DELETE FROM rm_customer_counts;
RETURN NULL;
END $fn$;
CREATE OR REPLACE TRIGGER rm_customer_counts_truncate AFTER TRUNCATE ON rm_customers
FOR EACH STATEMENT EXECUTE FUNCTION rm_customer_counts_truncate()"""

KEYSET_INDEXES_DDL: Final = """
CREATE INDEX IF NOT EXISTS rm_customers_lifecycle_created
    ON rm_customers (lifecycle_stage, created_at, id);
CREATE INDEX IF NOT EXISTS rm_customers_tier_created ON rm_customers (tier, created_at, id);
CREATE INDEX IF NOT EXISTS rm_customers_updated_at_id ON rm_customers (updated_at, id);
CREATE INDEX IF NOT EXISTS rm_customers_name_id
    ON rm_customers ((coalesce(lower(name), '')), id);
CREATE INDEX IF NOT EXISTS rm_merges_incomplete ON rm_merges (duplicate_id)
    WHERE duplicate_position IS NULL OR survivor_position IS NULL"""
"""Keyset pages read (sort key, id) in index order: the two filters the list is mostly
asked with, in the default order, and every other order unfiltered. Totals read the
incomplete merge links only."""

BACKFILL_SQL: Final = """
INSERT INTO rm_customer_counts (dimension, value, n)
SELECT x.dimension, x.value, count(*) FROM rm_customers AS r CROSS JOIN LATERAL (VALUES
    ('all', ''), ('lifecycle_stage', r.lifecycle_stage), ('tier', r.tier),
    ('stage', r.stage), ('owner', r.owner), ('region', r.region)
) AS x(dimension, value) WHERE x.value IS NOT NULL AND r.merged_into IS NULL GROUP BY 1, 2
UNION ALL
SELECT 'tag', t.tag, count(*) FROM rm_customers AS r
CROSS JOIN LATERAL (SELECT DISTINCT unnest(r.tags)) AS t(tag)
WHERE r.merged_into IS NULL GROUP BY 1, 2"""
"""Counts of a read model written before the counters existed (or with triggers off)."""

BACKFILL_DDL: Final = f"""
DO $fill$ BEGIN
IF NOT EXISTS (SELECT 1 FROM rm_customer_counts) AND EXISTS (SELECT 1 FROM rm_customers) THEN
{BACKFILL_SQL};
END IF;
END $fill$"""
"""A read model from before the counters gains them in place: rows but no `all` counter."""

TRIGGERS_DDL: Final = ";\n".join(
    [*(_trigger_ddl(op) for op in ("insert", "update", "delete")), TRUNCATE_DDL]
)
"""The counters' trigger functions and triggers, created in the first schema of the
search_path. A table moved to another schema keeps triggers whose functions stayed
behind: a rebuild's swap runs this again in the serving schema (`streams.rebuild_shadow`)."""

COUNTS_ALL_DDL: Final = ";\n".join([COUNTS_DDL, TRIGGERS_DDL, KEYSET_INDEXES_DDL, BACKFILL_DDL])
"""Run by `projections.schema.create_all` after rm_customers exists; idempotent."""


def recount(conn: Connection[Any]) -> None:
    """Recompute every counter from rm_customers (e.g. after rows were written set-based
    with the triggers disabled)."""
    conn.execute("DELETE FROM rm_customer_counts")
    conn.execute(BACKFILL_SQL)


def counted_dimension(where: CustomerFilter) -> tuple[str, str] | None:
    """The (dimension, value) counter that answers `where` exactly, if one does."""
    if given(where, "text") or where.custom_fields or where.owners is not None:
        # A scoped count (a rep's team) filters rows: exact, costs its visible rows.
        return None
    counted = [(name, value) for name in COUNTED if (value := given(where, name)) is not None]
    if not counted:
        return ("all", "")
    return counted[0] if len(counted) == 1 else None


CORRECTED_SQL: Final = """
SELECT coalesce((SELECT n FROM rm_customer_counts WHERE dimension = %(dimension)s
                 AND value = %(value)s), 0)
     + coalesce((SELECT sum(
           CASE WHEN NOT EXISTS (SELECT 1 FROM rm_customers AS s WHERE s.id = dm.survivor_id)
                THEN 1 ELSE 0 END
         - CASE WHEN c.merged_into IS NULL THEN 1 ELSE 0 END)
       FROM rm_merges AS dm JOIN rm_customers AS c ON c.id = dm.duplicate_id
       WHERE (dm.duplicate_position IS NULL OR dm.survivor_position IS NULL) AND {cond}), 0)
"""
"""One statement (one snapshot): the counter, plus for each half-applied merge whose
duplicate the filter matches, listed-by-the-rule minus counted-by-the-counter."""


def count_customers(conn: Connection[Any], where: CustomerFilter | None = None) -> int:
    """How many customers the list shows for `where`; exact (see the module docstring)."""
    where = where or CustomerFilter()
    conditions, params = filter_conditions(where)
    key = counted_dimension(where)
    if key is None:
        statement = sql.SQL("SELECT count(*) FROM rm_customers AS c WHERE {}").format(
            sql.SQL(" AND ").join(conditions)
        )
    else:
        params["dimension"], params["value"] = key
        # conditions[0] is the list's "not a merged duplicate": the sum decides that here.
        statement = sql.SQL(CORRECTED_SQL).format(
            cond=sql.SQL(" AND ").join([sql.SQL("true"), *conditions[1:]])
        )
    row = conn.execute(statement, params).fetchone()
    return int(row[0]) if row else 0
