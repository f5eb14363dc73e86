"""Read-model tables in PostgreSQL: created idempotently, dropped whole for a rebuild.

Every table is a projection of the event stream and can be rebuilt from it, so the
schema has no migrations: a changed shape means `drop_all`, `create_all` and a replay
(or `reset_projection` for one projection's tables). Each table belongs to exactly one
projection (`PROJECTION_TABLES`); `rm_applied` records how far each projection got.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Final

from psycopg import Connection, sql

from projections.counts import COUNTS_ALL_DDL

APPLIED_DDL: Final = """
CREATE TABLE IF NOT EXISTS rm_applied (
    projection text NOT NULL,
    subject_id uuid NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (projection, subject_id)
);
ALTER TABLE rm_applied SET (fillfactor = 50);
CREATE TABLE IF NOT EXISTS rm_applied_marks (
    projection text PRIMARY KEY,
    position bigint NOT NULL
);
DROP TABLE IF EXISTS rm_applied_high"""
"""Every batch rewrites the checkpoint rows of its customers (one per projection). With
half of each page left free the new versions stay on their page (HOT: no index entry,
pruned in place): a batch's checkpoint update took ~5 ms instead of ~8 for 100
customers. A table from before this setting uses it for its new pages.

`rm_applied_marks` is how far each projection got, one row each, raised by every
projections worker's heartbeat (`projections.marks`): the heartbeat's lag and
`/metrics` read it instead of a `max(position)` over rm_applied. It replaces
`rm_applied_high`, one row for all projections, which `/metrics` could not use."""

CUSTOMERS_DDL: Final = """
CREATE TABLE IF NOT EXISTS rm_customers (
    id uuid PRIMARY KEY,
    name text,
    email text,
    phone text,
    address text,
    company text,
    industry text,
    region text,
    source text,
    owner text,
    referred_by uuid,
    referrals jsonb NOT NULL DEFAULT '[]',
    tags text[] NOT NULL DEFAULT '{}',
    consents jsonb NOT NULL DEFAULT '[]',
    stage text NOT NULL DEFAULT 'LEAD',
    stage_history jsonb NOT NULL DEFAULT '[]',
    needs jsonb NOT NULL DEFAULT '[]',
    surveys jsonb NOT NULL DEFAULT '[]',
    merged_into uuid,
    forgotten boolean NOT NULL DEFAULT false,
    forgotten_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL,
    last_position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_customers_created_at_id ON rm_customers (created_at, id);
CREATE INDEX IF NOT EXISTS rm_customers_tags ON rm_customers USING gin (tags);
CREATE INDEX IF NOT EXISTS rm_customers_region ON rm_customers (region);
CREATE INDEX IF NOT EXISTS rm_customers_owner ON rm_customers (owner);
CREATE INDEX IF NOT EXISTS rm_customers_stage ON rm_customers (stage);
CREATE INDEX IF NOT EXISTS rm_customers_email ON rm_customers (email)"""

DERIVED_COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    ("lifecycle_stage", "text", "NOT NULL DEFAULT 'PROSPECT'"),
    ("lifecycle_reason", "text", ""),
    ("tier", "text", "NOT NULL DEFAULT 'BRONZE'"),
    ("tier_reason", "text", ""),
    ("derived_as_of", "timestamptz", ""),
    ("valid_until", "timestamptz", ""),
    ("purchase_count", "integer", "NOT NULL DEFAULT 0"),
    ("purchase_total", "numeric", "NOT NULL DEFAULT 0"),
    ("first_purchase_at", "timestamptz", ""),
    ("last_purchase_at", "timestamptz", ""),
    ("touch_count", "integer", "NOT NULL DEFAULT 0"),
    ("last_touch_at", "timestamptz", ""),
    ("touches_by_channel", "jsonb", "NOT NULL DEFAULT '[]'"),
    ("open_complaints", "integer", "NOT NULL DEFAULT 0"),
    ("merged_ids", "uuid[]", "NOT NULL DEFAULT '{}'"),
)
"""rm_customers' materialized columns (`projections.materialize` writes them): lifecycle
stage, tier, until when they hold, and the summaries over the merge tree. Added with
ADD COLUMN IF NOT EXISTS so a read model from before them gains them in place (then
`crm projections rebuild` fills them)."""

DERIVED_DDL: Final = ";\n".join(
    [
        *(
            f"ALTER TABLE rm_customers ADD COLUMN IF NOT EXISTS {name} {kind} {rest}".rstrip()
            for name, kind, rest in DERIVED_COLUMNS
        ),
        # (lifecycle_stage, created_at, id) and (tier, created_at, id) serve these filters
        # (`projections.counts.KEYSET_INDEXES_DDL`); every profile write paid for both.
        "DROP INDEX IF EXISTS rm_customers_lifecycle",
        "DROP INDEX IF EXISTS rm_customers_tier",
        "CREATE INDEX IF NOT EXISTS rm_customers_valid_until ON rm_customers (valid_until)"
        " WHERE valid_until IS NOT NULL",
    ]
)

SEARCH_DDL: Final = """
ALTER TABLE rm_customers ADD COLUMN IF NOT EXISTS name_pinyin text;
ALTER TABLE rm_customers ADD COLUMN IF NOT EXISTS name_initials text;
ALTER TABLE rm_customers ADD COLUMN IF NOT EXISTS phone_digits text;
CREATE INDEX IF NOT EXISTS rm_customers_pinyin_id ON rm_customers ((coalesce(name_pinyin, '')), id);
CREATE INDEX IF NOT EXISTS rm_customers_pinyin_compact
    ON rm_customers ((replace(name_pinyin, ' ', '')) text_pattern_ops);
CREATE INDEX IF NOT EXISTS rm_customers_initials ON rm_customers (name_initials text_pattern_ops);
CREATE INDEX IF NOT EXISTS rm_customers_phone_digits
    ON rm_customers (phone_digits text_pattern_ops)"""
"""The search keys `projections.search_keys` computes in the customers fold: the NAME sort
key (pinyin), pinyin and initials to match a name typed in letters, the phone's digits
to match a number typed any way. Added in place (a read model from before them gains
them; `crm projections rebuild customers` fills them)."""

MERGES_DDL: Final = """
CREATE TABLE IF NOT EXISTS rm_merges (
    duplicate_id uuid PRIMARY KEY,
    survivor_id uuid NOT NULL,
    merged_at timestamptz NOT NULL,
    duplicate_position bigint,
    survivor_position bigint
);
CREATE INDEX IF NOT EXISTS rm_merges_survivor ON rm_merges (survivor_id)"""

PURCHASES_DDL: Final = """
CREATE TABLE IF NOT EXISTS rm_purchases (
    position bigint PRIMARY KEY,
    customer_id uuid NOT NULL,
    order_id text NOT NULL,
    occurred_at timestamptz NOT NULL,
    currency text NOT NULL,
    rate_to_cny numeric NOT NULL,
    total numeric NOT NULL,
    total_cny numeric NOT NULL,
    lines jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_purchases_customer ON rm_purchases (customer_id, occurred_at)"""

TOUCH_COUNTS_OF: Final = (
    "SELECT customer_id, channel, count(*) AS touches, max(occurred_at) AS last_at"
    " FROM {rows} GROUP BY 1, 2"
)
"""The touch counters' one rule: per customer and channel of some touch rows (`rows`: a
table, a CTE or a subquery), how many and the latest. The touches projection moves the counters
by it, a backfill and a rebuild fill them with it, `crm check` recounts with it."""
COUNT_TOUCHES_INTO: Final = (
    "INSERT INTO rm_touch_counts AS c (customer_id, channel, touches, last_at) " + TOUCH_COUNTS_OF
)
"""`TOUCH_COUNTS_OF` written into the counters (`rows` to fill in)."""

TOUCHES_DDL: Final = f"""
CREATE TABLE IF NOT EXISTS rm_touches (
    position bigint PRIMARY KEY,
    customer_id uuid NOT NULL,
    channel text NOT NULL,
    direction text NOT NULL,
    outcome text,
    summary text,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_touches_customer ON rm_touches (customer_id, occurred_at);
CREATE TABLE IF NOT EXISTS rm_touch_counts (
    customer_id uuid NOT NULL,
    channel text NOT NULL,
    touches bigint NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (customer_id, channel)
);
DO $fill$ BEGIN
IF NOT EXISTS (SELECT 1 FROM rm_touch_counts) AND EXISTS (SELECT 1 FROM rm_touches) THEN
{COUNT_TOUCHES_INTO.format(rows="rm_touches")};
END IF;
END $fill$"""
"""rm_touch_counts: per customer and channel, how many touches and the latest, kept with
each insert (`projections.handlers.touches`) so a profile's summary costs its channels,
not its history. A read model from before the counters gains them in place."""

COMPLAINTS_DDL: Final = """
CREATE TABLE IF NOT EXISTS rm_complaints (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    category text,
    severity text,
    status text NOT NULL,
    description text,
    escalation_reason text,
    escalated_automatically boolean,
    resolution text,
    satisfaction integer,
    filed_at timestamptz NOT NULL,
    escalated_at timestamptz,
    resolved_at timestamptz,
    version integer NOT NULL,
    last_position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_complaints_customer ON rm_complaints (customer_id, filed_at);
ALTER TABLE rm_complaints ADD COLUMN IF NOT EXISTS assignee text;
ALTER TABLE rm_complaints ADD COLUMN IF NOT EXISTS assigned_at timestamptz;
ALTER TABLE rm_complaints ADD COLUMN IF NOT EXISTS assigned_by text;
CREATE INDEX IF NOT EXISTS rm_complaints_queue ON rm_complaints (status, filed_at, id);
CREATE INDEX IF NOT EXISTS rm_complaints_assignee ON rm_complaints (assignee, filed_at, id)"""
"""The complaint queue (`projections.complaint_queue`) walks (status, filed_at, id) or
(assignee, filed_at, id); the assignment columns are added in place to a read model
from before them (then `crm projections rebuild complaints` fills them)."""

FUNNEL_DDL: Final = """
CREATE TABLE IF NOT EXISTS rm_funnel (
    customer_id uuid PRIMARY KEY,
    registered_at timestamptz NOT NULL,
    source text,
    furthest_rank smallint NOT NULL,
    furthest_stage text NOT NULL,
    reached_at jsonb NOT NULL DEFAULT '{}',
    last_position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_funnel_registered ON rm_funnel (registered_at)"""

TIMELINE_DDL: Final = """
CREATE TABLE IF NOT EXISTS rm_timeline (
    position bigint PRIMARY KEY,
    customer_id uuid NOT NULL,
    stream_id uuid NOT NULL,
    stream_version integer NOT NULL,
    event_id text NOT NULL,
    type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    actor text,
    summary jsonb NOT NULL,
    personal_fields text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS rm_timeline_customer ON rm_timeline (customer_id, position)"""

TASKS_DDL: Final = """
CREATE TABLE IF NOT EXISTS rm_tasks (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    kind text NOT NULL,
    title text,
    assignee text NOT NULL,
    status text NOT NULL,
    due_at timestamptz NOT NULL,
    scheduled_at timestamptz NOT NULL,
    scheduled_by text,
    fell_due_at timestamptz,
    closed_at timestamptz,
    outcome text,
    reason text,
    version integer NOT NULL,
    last_position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_tasks_assignee ON rm_tasks (assignee, due_at, id);
CREATE INDEX IF NOT EXISTS rm_tasks_due ON rm_tasks (due_at, id) WHERE status = 'OPEN'"""
"""`myTasks` walks (assignee, due_at, id); the scheduler finds OPEN tasks whose due time
has passed on the partial index."""

CUSTOM_FIELDS_DDL: Final = """
ALTER TABLE rm_customers ADD COLUMN IF NOT EXISTS custom_fields jsonb NOT NULL DEFAULT '{}';
ALTER TABLE rm_customers ADD COLUMN IF NOT EXISTS custom_texts jsonb NOT NULL DEFAULT '{}';
CREATE INDEX IF NOT EXISTS rm_customers_custom_fields
    ON rm_customers USING gin (custom_fields jsonb_path_ops);
CREATE TABLE IF NOT EXISTS rm_custom_fields (
    key text PRIMARY KEY,
    label text NOT NULL,
    field_type text NOT NULL,
    choices text[] NOT NULL DEFAULT '{}',
    required boolean NOT NULL DEFAULT false,
    retired boolean NOT NULL DEFAULT false,
    defined_at timestamptz NOT NULL,
    defined_by text,
    retired_at timestamptz,
    last_position bigint NOT NULL
)"""
"""A customer's non-text custom values (`custom_fields`, key -> value) are filterable by
containment on the GIN index; TEXT values (`custom_texts`) are personal: scrubbed on
forgetting and never filtered on. rm_custom_fields holds the definitions."""
ORGANISATION_DDL: Final = """
CREATE TABLE IF NOT EXISTS rm_org_teams (
    team text PRIMARY KEY,
    department text NOT NULL
);
CREATE TABLE IF NOT EXISTS rm_org_members (
    team text NOT NULL,
    member text NOT NULL,
    PRIMARY KEY (team, member)
);
CREATE INDEX IF NOT EXISTS rm_org_members_member ON rm_org_members (member);
CREATE TABLE IF NOT EXISTS rm_org_rules (
    rule text PRIMARY KEY,
    team text NOT NULL,
    region text,
    source text,
    capacity integer
);
CREATE TABLE IF NOT EXISTS rm_org_departments (
    department text PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS rm_org_routed (
    customer_id uuid PRIMARY KEY,
    rule text NOT NULL,
    owner text NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_org_routed_rule ON rm_org_routed (rule)"""
"""The organisation, for scoping (`projections.org_scope`) and reading it
(`projections.org_view`): rm_org_departments keeps departments without teams too;
rm_org_routed holds the open routed leads (LeadRouted until LeadReleased), the same
leads the aggregate counts against a rule's capacity."""

UNKNOWN_EVENTS_DDL: Final = """
CREATE TABLE IF NOT EXISTS rm_unknown_events (
    type text PRIMARY KEY,
    seen bigint NOT NULL,
    last_position bigint NOT NULL
)"""

PROJECTION_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "customers": ("rm_customers", "rm_customer_counts"),
    "merges": ("rm_merges",),
    "purchases": ("rm_purchases",),
    "touches": ("rm_touches", "rm_touch_counts"),
    "complaints": ("rm_complaints",),
    "funnel": ("rm_funnel",),
    "timeline": ("rm_timeline",),
    "tasks": ("rm_tasks",),
    "custom_fields": ("rm_custom_fields",),
    "organisation": (
        "rm_org_teams",
        "rm_org_members",
        "rm_org_rules",
        "rm_org_departments",
        "rm_org_routed",
    ),
    "unknown_events": ("rm_unknown_events",),
}
"""Which tables each projection writes; the keys are the projection names in rm_applied."""

PAYLOAD_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "rm_timeline": ("event_id", "summary", "personal_fields"),
    "rm_customers": (
        *("referrals", "consents", "stage_history", "needs", "surveys"),
        *("touches_by_channel", "custom_texts", "lifecycle_reason", "tier_reason"),
    ),
    "rm_touches": ("summary", "outcome"),
    "rm_purchases": ("lines",),
}
"""Columns only ever shown, never filtered, joined, sorted or grouped on: they carry no
planner statistics. ANALYZE spent most of its time on them (rm_timeline's 50k rows:
246 ms, 28 ms for its keys alone), and a rebuild analyzes every table before its swap."""

PAYLOAD_DDL: Final = ";\n".join(
    f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS 0"
    for table, columns in PAYLOAD_COLUMNS.items()
    for column in columns
)

ALL_DDL: Final = (
    APPLIED_DDL,
    CUSTOMERS_DDL,
    DERIVED_DDL,
    SEARCH_DDL,
    MERGES_DDL,
    COUNTS_ALL_DDL,
    PURCHASES_DDL,
    TOUCHES_DDL,
    COMPLAINTS_DDL,
    FUNNEL_DDL,
    TIMELINE_DDL,
    TASKS_DDL,
    CUSTOM_FIELDS_DDL,
    ORGANISATION_DDL,
    UNKNOWN_EVENTS_DDL,
    PAYLOAD_DDL,
)

ALL_TABLES: Final = ("rm_applied", *(t for ts in PROJECTION_TABLES.values() for t in ts))


def create_all(conn: Connection[Any]) -> None:
    """Create every read-model table and index that is missing (and add missing columns).

    Safe to run again, but not free while others write: an `ALTER TABLE … IF NOT EXISTS`
    takes its table's ACCESS EXCLUSIVE lock even when it has nothing to do, and can
    deadlock with a live batch that holds a weaker lock on that table and asks for a
    stronger one. On a process's start use `ensure_all`; where the tables are only needed
    to exist, ask `missing_tables` first.
    """
    for ddl in ALL_DDL:
        conn.execute(ddl)


SCHEMA_DIGEST: Final = hashlib.sha256("\n".join(ALL_DDL).encode()).hexdigest()
"""Names this code's read-model DDL: a database where it ran needs none of it again."""
SCHEMA_MARK_DDL: Final = """
CREATE TABLE IF NOT EXISTS crm_read_model_schema (digest text NOT NULL)"""


READ_SIDE_DDL_LOCK: Final = 7_236_182_012
"""The advisory lock the read side's DDL runs under (read models, parking lot): processes
started together on an empty database would otherwise race on `CREATE TABLE IF NOT
EXISTS`, and PostgreSQL answers the loser with a duplicate key on its catalog
(`pg_type_typname_nsp_index`). Next to the event store's chain lock
(`commands.chain.DDL_LOCK_KEY`)."""


def serialize_ddl(conn: Connection[Any]) -> None:
    """Wait for any other process's read-side DDL; held until this transaction ends (so
    call it inside one)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [READ_SIDE_DDL_LOCK])


def ensure_all(conn: Connection[Any]) -> bool:
    """`create_all` where this code's DDL has not run yet (or a table is missing); True
    when it ran. What a process runs on every start, inside a transaction: a worker
    restarted while another applies must not take ACCESS EXCLUSIVE locks on the tables
    being written (the readers queue behind them, and a live batch can deadlock with
    them). Two starting together: one runs the DDL, the other waits and finds it done."""
    if not missing_tables(conn) and _schema_mark(conn) == SCHEMA_DIGEST:
        return False
    serialize_ddl(conn)
    if not missing_tables(conn) and _schema_mark(conn) == SCHEMA_DIGEST:
        return False  # another process ran it while this one waited
    create_all(conn)
    conn.execute(SCHEMA_MARK_DDL)
    conn.execute("DELETE FROM crm_read_model_schema")
    conn.execute("INSERT INTO crm_read_model_schema (digest) VALUES (%s)", [SCHEMA_DIGEST])
    return True


def _schema_mark(conn: Connection[Any]) -> str | None:
    if absent_tables(conn, ["crm_read_model_schema"]):
        return None
    row = conn.execute("SELECT digest FROM crm_read_model_schema").fetchone()
    return str(row[0]) if row else None


def missing_tables(conn: Connection[Any]) -> list[str]:
    """The read-model tables not in the current schema (a catalog read: no table locks)."""
    return absent_tables(conn, ALL_TABLES)


_ABSENT_SQL: Final = """
SELECT t FROM unnest(%s::text[]) AS t WHERE NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = t AND n.nspname = ANY (current_schemas(false)))"""


def absent_tables(conn: Connection[Any], tables: Iterable[str]) -> list[str]:
    """Which of these tables the search path does not hold, as of this statement.

    A query on pg_class, not `to_regclass`: that reads the backend's catalog cache, which
    keeps a "not found" until the backend next takes a table lock. A transaction that
    waited on `serialize_ddl` while another created the table would still see it missing
    (and run the DDL again)."""
    rows = conn.execute(_ABSENT_SQL, [list(tables)]).fetchall()
    return [str(row[0]) for row in rows]


def drop_all(conn: Connection[Any]) -> None:
    """Drop every read-model table, checkpoints included, so a replay starts from nothing."""
    for table in reversed(ALL_TABLES):
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
    conn.execute("DROP TABLE IF EXISTS rm_applied_marks")  # not a replay's: no claims left


def reset_projection(conn: Connection[Any], projection: str) -> None:
    """Empty one projection's tables and forget its checkpoints: a replay rebuilds only it."""
    tables = PROJECTION_TABLES[projection]
    conn.execute(
        sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(sql.Identifier(t) for t in tables))
    )
    conn.execute("DELETE FROM rm_applied WHERE projection = %s", [projection])
    conn.execute("DELETE FROM rm_applied_marks WHERE projection = %s", [projection])
