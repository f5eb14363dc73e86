"""The event recorder, extended with the write side's own tables, in the same transaction.

Why in the events' transaction: each side table states something that must be true
exactly when the events are. Metadata of a position, the idempotency result of a
command, an email reservation, a customer's key: if any of them committed apart from
the events, a crash between two commits would leave a command half-recorded.

Why the recorder does the insert itself (`CrmRecorder.insert_events`, replacing the
library's): the library takes an EXCLUSIVE lock on ``stored_events`` right before
inserting, so that positions commit in order (no gaps a follower could skip); we keep that
lock and that order, but insert every table set-based with binary typed arrays (one
statement per table per save), where the library builds a composite value per event in
Python. Writing the side tables once that lock is held means (a) the positions of the new
events are known, (b) every side-table write is serialised by the same lock, so two
transactions never wait on each other's side rows while one holds the table lock (no
deadlocks), and (c) checks such as "this customer's key still exists" cannot race with a
forget. The side statements are pipelined and ride on the COMMIT round trip; a constraint
they break surfaces as the library's `IntegrityError` whose ``__cause__`` names the
constraint, and any error rolls the whole save back.

A save with effects also writes each event's Kafka message to ``crm_event_envelopes``
when the composition root gave the recorder an `EnvelopeEncoder` (`envelopes`): built
and signed once, here, from the state the mapper sealed, so the relay only moves bytes
(docs/streams.md). The wire format is the streams' concern, hence the injection.

Every save, with or without effects, also links its events into the hash chain
(`commands.chain`: computed here from the bytes being inserted, the metadata's recorded
time included, since the recorder sets it) and indexes the
streams that belong to another customer (complaints) in ``crm_stream_subjects``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Identifier, Literal

from commands.access_table import access_log_statements
from commands.binary_arrays import bytea_array, int8_array, text_array
from commands.chain import (
    GENESIS,
    ChainTables,
    chain_statements,
    head_statement,
    insert_links_statement,
    link_rows,
    position_bytes,
    scoped_creation_topics,
    subjects_statement,
)
from commands.crypto import KeyDestroyed
from commands.key_check import key_check_statements
from commands.mapper import MappedEvent
from commands.save_plan import PreparedSave, prepare_save

EVENT_META = "crm_event_meta"
EVENT_ENVELOPES = "crm_event_envelopes"
IDEMPOTENCY = "crm_idempotency"
EMAIL_RESERVATIONS = "crm_email_reservations"
CUSTOMER_KEYS = "crm_customer_keys"
STORED_EVENTS = "stored_events"
"""The events table (eventsourcing's, named for the platform): other readers query it too."""

# Constraint names the service tells apart (PostgreSQL's defaults for these tables).
EVENTS_PKEY_SUFFIX = "_events_pkey"
IDEMPOTENCY_PKEY = f"{IDEMPOTENCY}_pkey"
EMAIL_PKEY = f"{EMAIL_RESERVATIONS}_pkey"
CUSTOMER_KEYS_PKEY = f"{CUSTOMER_KEYS}_pkey"
BEGIN = b"BEGIN"
COMMIT = b"COMMIT"

EventKey = tuple[UUID, int]


@dataclass(frozen=True, kw_only=True)
class IdempotencyRecord:
    """A command's first result, stored under (subject, key) with its fingerprint.

    See `commands.idempotency` for what the subject scopes and the fingerprint binds.
    """

    subject: str
    key: str
    command: str
    fingerprint: str
    result: Mapping[str, Any]
    events: Sequence[EventKey]


@dataclass(frozen=True, kw_only=True)
class StoredResult:
    """A row of ``crm_idempotency``; `fingerprint` is None for rows stored before them."""

    subject: str
    key: str
    command: str
    fingerprint: str | None
    result: Mapping[str, Any]
    position: int | None


@dataclass(frozen=True)
class EventMeta:
    """A row of ``crm_event_meta``: who caused the event at `position`, and why."""

    position: int
    actor: str | None
    correlation_id: UUID | None
    causation_id: UUID | None
    command: str | None
    recorded_at: datetime


class EnvelopeRow(NamedTuple):
    """A row of ``crm_event_envelopes``: an event's Kafka message as the relay sends it,
    built and signed once, at commit, so it is authenticated from the write transaction
    to the worker (a row changed in the database fails the workers' check). `type` is the
    CloudEvents type with the class version of that moment: a relay whose class has
    moved on (a new upcaster) builds the message from the stored event instead. A named
    tuple, not a dataclass: one is built per event written, on the write path."""

    type: str
    subject: str
    id: str
    time: str
    traceparent: str
    signature: str
    value: bytes


Provenance = tuple[str | None, UUID | None, UUID | None]
"""Who caused an event: actor, correlation id, causation id."""


class EnvelopeDraft(Protocol):
    """An event's envelope drafted before its position is known; `at` completes it."""

    @property
    def type(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def time(self) -> str: ...
    @property
    def traceparent(self) -> str: ...
    def at(self, position: int) -> EnvelopeRow: ...


class EnvelopeEncoder(Protocol):
    """Drafts the envelopes of a save's events before the save takes the events table's
    lock (`streams.wire.EnvelopesAtCommit`, injected by the composition root: the wire
    format is the streams' concern)."""

    def __call__(
        self,
        events: Sequence[MappedEvent],
        provenance: Sequence[Provenance],
        recorded_at: datetime,
    ) -> Sequence[EnvelopeDraft]: ...


MERGED_TOPIC = "events.customer:CustomerMerged"
"""The stored topic of the duplicate's side of a merge (`events.customer.CustomerMerged`)."""


class MergedMeanwhile(Exception):
    """A new complaint or task names a customer merged away since it was loaded."""

    def __init__(self, customer_id: UUID) -> None:
        super().__init__(f"customer {customer_id} was merged meanwhile")
        self.customer_id = customer_id


@dataclass
class WriteEffects:
    """Everything a save writes besides the events (the recorder's ``effects=`` kwarg).

    `commands` names the command of each event (by stream id and version); events not
    listed get `default_command`. `email_changes` maps a customer to its new email digest,
    or None to release its reservation. `required_keys` are customers whose key must still
    exist when the transaction commits (writes to other streams than the customer's).
    `open_customers` are customers that must not have been merged away by a save
    committed before this one (new complaints and tasks: their customer is not written,
    so no stream version guards the check their aggregate made on a loaded copy).
    """

    actor: str | None = None
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    default_command: str | None = None
    contexts: dict[EventKey, Provenance] = field(default_factory=dict)
    commands: dict[EventKey, str] = field(default_factory=dict)
    idempotency: list[IdempotencyRecord] = field(default_factory=list)
    email_changes: dict[UUID, bytes | None] = field(default_factory=dict)
    new_keys: dict[UUID, bytes] = field(default_factory=dict)
    destroyed_keys: set[UUID] = field(default_factory=set)
    required_keys: set[UUID] = field(default_factory=set)
    open_customers: set[UUID] = field(default_factory=set)


def rendered(statement: Composable) -> bytes:
    """A composed statement as the bytes sent (its identifiers are ASCII, so no
    connection is needed to quote them)."""
    return statement.as_bytes(None)


class CrmRecorder(PostgresApplicationRecorder):
    """`PostgresApplicationRecorder` plus the side tables (see module docstring)."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = STORED_EVENTS
    ) -> None:
        self._statements: dict[tuple[str, tuple[str, ...]], bytes] = {}
        super().__init__(datastore, events_table_name=events_table_name)
        prefix = events_table_name.removesuffix("_events")
        self.snapshots_table_name: str | None = f"{prefix}_snapshots"
        self.sql_create_statements.extend(self._side_table_statements())
        self.chain_tables = ChainTables(self.datastore.schema, events_table_name, EVENT_META)
        self.sql_create_statements.extend(
            chain_statements(self.chain_tables, scoped_creation_topics())
        )
        self.sql_create_statements.extend(access_log_statements(self.datastore.schema))
        self.sql_create_statements.extend(key_check_statements(self.datastore.schema))
        # The save's statements as the bytes sent: psycopg composes a `Composed` again on
        # every execute (~40 µs each, ~8 a save).
        self.lock_table_statements = [
            rendered(s) if isinstance(s, Composable) else s for s in self.lock_table_statements
        ]
        self._notify = rendered(SQL("NOTIFY {}").format(Identifier(self.channel_name)))
        self._chain_head = rendered(head_statement(self.chain_tables))
        self._insert_links = rendered(insert_links_statement(self.chain_tables))
        self._insert_binary = self._sql(
            "INSERT INTO {} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id",
            self.events_table_name,
        )
        self._insert_meta = self._sql(
            "INSERT INTO {} (position, actor, correlation_id, causation_id, command, "
            "recorded_at) SELECT *, %b::timestamptz FROM unnest(%b::bigint[], %b::text[], "
            "%b::uuid[], %b::uuid[], %b::text[])",
            EVENT_META,
        )
        self._insert_envelopes = self._sql(
            "INSERT INTO {} (position, type, subject, id, time, traceparent, signature, "
            "value) SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], "
            "%b::text[], %b::text[], %b::text[], %b::bytea[])",
            EVENT_ENVELOPES,
        )
        self.envelopes: EnvelopeEncoder | None = None
        """Set by the composition root: saves then write each event's wire envelope."""
        self._scoped_topics = frozenset(scoped_creation_topics())
        self._index_subjects = rendered(subjects_statement(self.chain_tables))

    def _t(self, name: str) -> Composable:
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(name))

    def _sql(self, template: str, *tables: str) -> bytes:
        """`template` with these tables of the schema in its `{}`s, rendered once."""
        key = (template, tables)
        text = self._statements.get(key)
        if text is None:
            composed = SQL(template).format(*(self._t(t) for t in tables))
            text = self._statements[key] = rendered(composed)
        return text

    def _notify_channel(self, curs: Cursor[DictRow]) -> None:
        curs.execute(self._notify)

    def _side_table_statements(self) -> list[Any]:
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "position bigint PRIMARY KEY, actor text, correlation_id uuid, "
                "causation_id uuid, command text, "
                "recorded_at timestamptz NOT NULL DEFAULT clock_timestamp())"
            ).format(self._t(EVENT_META)),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "position bigint PRIMARY KEY, type text NOT NULL, subject text NOT NULL, "
                "id text NOT NULL, time text NOT NULL, traceparent text NOT NULL, "
                "signature text NOT NULL, value bytea NOT NULL)"
            ).format(self._t(EVENT_ENVELOPES)),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "subject text NOT NULL, key text NOT NULL, command text NOT NULL, "
                "fingerprint text, result jsonb NOT NULL, position bigint, "
                "created_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
                "CONSTRAINT {} PRIMARY KEY (subject, key))"
            ).format(self._t(IDEMPOTENCY), Identifier(IDEMPOTENCY_PKEY)),
            *idempotency_migration(self.datastore.schema),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "email_hash bytea PRIMARY KEY, customer_id uuid NOT NULL UNIQUE)"
            ).format(self._t(EMAIL_RESERVATIONS)),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "customer_id uuid PRIMARY KEY, wrapped_key bytea NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT clock_timestamp())"
            ).format(self._t(CUSTOMER_KEYS)),
            # Merges only: `_check_not_merged` runs under the events table lock, where a
            # scan of a busy customer's whole stream would hold every writer back.
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} (originator_id) WHERE topic = {}").format(
                Identifier(f"{self.events_table_name}_merged"),
                self._t(self.events_table_name),
                Literal(MERGED_TOPIC),
            ),
        ]

    def is_events_conflict(self, constraint: str | None) -> bool:
        """Whether a violated constraint is the stream version key of the events table."""
        return constraint == f"{self.events_table_name}_pkey"

    # -- the save: one transaction, set-based --------------------------------------------

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Events, metadata, side rows and chain links of one save, in one transaction.

        Replaces the library's insert (same lock, same NOTIFY, same positions) because its
        ``unnest(stored_event[])`` builds a composite value per row in Python; here every
        table gets one statement per save with binary typed arrays. Round trips: two. The
        BEGIN, the lock, the insert and the chain head in one (the head is read after the
        lock, so it is the true previous link); the side rows, the links and the COMMIT in
        the other. An error anywhere rolls the whole save back.

        The transaction is opened and closed by statements in the pipeline, not by
        psycopg's ``transaction()``: that one waits for the BEGIN on its own, and syncs
        again before the COMMIT, two round trips more per save (measured with libpq's
        protocol trace: five instead of three for one command, the load included).
        """
        if not stored_events:
            return None
        effects: WriteEffects | None = kwargs.get("effects")
        plan = prepare_save(
            stored_events, effects, datetime.now(UTC), self._scoped_topics, self.envelopes
        )
        with self.datastore.get_connection() as conn:
            try:
                with conn.pipeline() as pipeline, conn.cursor() as curs, conn.cursor() as head:
                    curs.execute(BEGIN)
                    self._lock_table(curs)
                    self._notify_channel(curs)
                    curs.execute(self._insert_binary, plan.events, prepare=True)
                    head.execute(self._chain_head, prepare=True)
                    # Sync now, so a stream version clash surfaces here as the
                    # IntegrityError the service tells apart, not later as an aborted
                    # pipeline.
                    pipeline.sync()
                    ids = [row["notification_id"] for row in curs.fetchall()]
                    if len(ids) != len(stored_events):
                        raise ProgrammingError(
                            f"got {len(ids)} positions for {len(stored_events)} events"
                        )
                    found = head.fetchone()
                    previous = bytes(found["hash"]) if found else GENESIS
                    if effects is not None:
                        self._write_meta(curs, plan, ids)
                        self._write_effects(curs, effects, plan.keys, ids)
                    self._write_chain(curs, plan, ids, previous)
                    curs.execute(COMMIT)  # sent with the pipeline's closing Sync
            except BaseException:
                conn.rollback()  # no-op unless the transaction is still open (or failed)
                raise
        return ids

    def _write_chain(
        self, curs: Cursor[DictRow], plan: PreparedSave, ids: Sequence[int], previous: bytes
    ) -> None:
        """Link the new events into the hash chain; index new complaint streams."""
        if plan.scoped:
            curs.execute(self._index_subjects, ([ids[n] for n in plan.scoped],), prepare=True)
        bodies = [
            position_bytes(nid) + tail for nid, tail in zip(ids, plan.link_tails, strict=True)
        ]
        hashes, prevs = link_rows(previous, bodies)
        curs.execute(
            self._insert_links,
            (int8_array(ids), bytea_array(hashes), bytea_array(prevs)),
            prepare=True,
        )

    def _write_meta(self, curs: Cursor[DictRow], plan: PreparedSave, ids: Sequence[int]) -> None:
        """One ``crm_event_meta`` row per event, and the envelopes drafted for them."""
        assert plan.meta is not None  # prepared with the effects
        positions = int8_array(ids)
        curs.execute(self._insert_meta, (plan.recorded_at, positions, *plan.meta), prepare=True)
        envelopes = plan.envelopes
        if envelopes is None:
            return
        if len(envelopes.indexes) < len(ids):
            positions = int8_array([ids[n] for n in envelopes.indexes])
        rows = [
            draft.at(ids[n]) for n, draft in zip(envelopes.indexes, envelopes.drafts, strict=True)
        ]
        curs.execute(
            self._insert_envelopes,
            (
                positions,
                *envelopes.columns,
                text_array([row.signature for row in rows]),
                bytea_array([row.value for row in rows]),
            ),
            prepare=True,
        )

    def _write_effects(
        self,
        curs: Cursor[DictRow],
        effects: WriteEffects,
        keys: Sequence[EventKey],
        ids: Sequence[int],
    ) -> None:
        """Side rows in dependency order: new keys, key checks, emails, forgets, results."""
        if effects.new_keys:
            curs.execute(
                self._sql(
                    "INSERT INTO {} (customer_id, wrapped_key) "
                    "SELECT * FROM unnest(%s::uuid[], %s::bytea[])",
                    CUSTOMER_KEYS,
                ),
                (list(effects.new_keys), list(effects.new_keys.values())),
            )
        if effects.required_keys:
            self._check_keys_exist(curs, effects.required_keys)
        if effects.open_customers:
            self._check_not_merged(curs, effects.open_customers, min(ids))
        if effects.email_changes:
            self._write_emails(curs, effects.email_changes)
        if effects.destroyed_keys:
            self._destroy_keys(curs, sorted(effects.destroyed_keys))
        if effects.idempotency:
            positions = dict(zip(keys, ids, strict=True))
            self._write_idempotency(curs, effects.idempotency, positions)

    def _check_keys_exist(self, curs: Cursor[DictRow], customer_ids: set[UUID]) -> None:
        curs.execute(
            self._sql("SELECT customer_id FROM {} WHERE customer_id = ANY(%s)", CUSTOMER_KEYS),
            (list(customer_ids),),
        )
        present = {row["customer_id"] for row in curs.fetchall()}
        missing = customer_ids - present
        if missing:
            raise KeyDestroyed(min(missing))

    def _check_not_merged(
        self, curs: Cursor[DictRow], customer_ids: set[UUID], first_position: int
    ) -> None:
        """Under the events table lock: none of these customers was merged away by an
        earlier save (a merge in this very save, after the new stream, is in order)."""
        curs.execute(
            self._sql(
                "SELECT originator_id FROM {} WHERE originator_id = ANY(%s) "
                "AND topic = %s AND notification_id < %s LIMIT 1",
                self.events_table_name,
            ),
            (list(customer_ids), MERGED_TOPIC, first_position),
        )
        found = curs.fetchone()
        if found is not None:
            raise MergedMeanwhile(found["originator_id"])

    def _write_emails(self, curs: Cursor[DictRow], changes: Mapping[UUID, bytes | None]) -> None:
        curs.execute(
            self._sql("DELETE FROM {} WHERE customer_id = ANY(%s)", EMAIL_RESERVATIONS),
            (list(changes),),
        )
        reserved = [(digest, cid) for cid, digest in changes.items() if digest is not None]
        if reserved:
            curs.execute(
                self._sql(
                    "INSERT INTO {} (email_hash, customer_id) "
                    "SELECT * FROM unnest(%s::bytea[], %s::uuid[])",
                    EMAIL_RESERVATIONS,
                ),
                ([d for d, _ in reserved], [c for _, c in reserved]),
            )

    def _destroy_keys(self, curs: Cursor[DictRow], customer_ids: list[UUID]) -> None:
        curs.execute(
            self._sql("DELETE FROM {} WHERE customer_id = ANY(%s)", CUSTOMER_KEYS),
            (customer_ids,),
        )
        if self.snapshots_table_name:
            # Snapshots are sealed under the destroyed key: useless now, so drop them.
            curs.execute(
                self._sql(
                    "DELETE FROM {} WHERE originator_id = ANY(%s)", self.snapshots_table_name
                ),
                (customer_ids,),
            )

    def _write_idempotency(
        self,
        curs: Cursor[DictRow],
        records: Sequence[IdempotencyRecord],
        positions: Mapping[EventKey, int],
    ) -> None:
        def position(record: IdempotencyRecord) -> int | None:
            found = [positions[k] for k in record.events if k in positions]
            return max(found) if found else None

        curs.execute(
            self._sql(
                "INSERT INTO {} (subject, key, command, fingerprint, result, position) "
                "SELECT s, k, c, f, r::jsonb, p FROM unnest(%s::text[], %s::text[], "
                "%s::text[], %s::text[], %s::text[], %s::bigint[]) AS u(s, k, c, f, r, p)",
                IDEMPOTENCY,
            ),
            (
                [r.subject for r in records],
                [r.key for r in records],
                [r.command for r in records],
                [r.fingerprint for r in records],
                [json.dumps(dict(r.result), sort_keys=True) for r in records],
                [position(r) for r in records],
            ),
        )

    # -- side writes without events, and reads ---------------------------------------------

    def record_results_only(self, records: Sequence[IdempotencyRecord]) -> None:
        """Idempotency rows of commands that changed nothing (no events to carry them)."""
        if not records:
            return
        with self.datastore.transaction(commit=True) as curs:
            self._write_idempotency(curs, records, {})

    def select_results(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredResult]:
        """Stored first results by (subject, key) (one query for any number of keys)."""
        if not keys:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._sql(
                    "SELECT subject, key, command, fingerprint, result, position FROM {} "
                    "WHERE (subject, key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                    IDEMPOTENCY,
                ),
                ([s for s, _ in keys], [k for _, k in keys]),
                prepare=True,
            )
            return {(row["subject"], row["key"]): StoredResult(**row) for row in curs.fetchall()}

    def select_wrapped_keys(self, customer_ids: Sequence[UUID]) -> dict[UUID, bytes]:
        """Wrapped data keys by customer (absent: never existed, or destroyed)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._sql(
                    "SELECT customer_id, wrapped_key FROM {} WHERE customer_id = ANY(%s)",
                    CUSTOMER_KEYS,
                ),
                (list(customer_ids),),
                prepare=True,
            )
            return {row["customer_id"]: bytes(row["wrapped_key"]) for row in curs.fetchall()}

    def select_event_meta(self, positions: Sequence[int]) -> dict[int, EventMeta]:
        """Actor, correlation, causation and command of each given position."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._sql(
                    "SELECT position, actor, correlation_id, causation_id, command, recorded_at "
                    "FROM {} WHERE position = ANY(%s)",
                    EVENT_META,
                ),
                (list(positions),),
            )
            return {row["position"]: EventMeta(**row) for row in curs.fetchall()}

    def email_owner(self, digest: bytes) -> UUID | None:
        """The customer holding an email reservation, if any."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._sql("SELECT customer_id FROM {} WHERE email_hash = %s", EMAIL_RESERVATIONS),
                (digest,),
            )
            row = curs.fetchone()
            return None if row is None else row["customer_id"]


def idempotency_migration(schema: str) -> list[Composable]:
    """Bring a ``crm_idempotency`` of before subjects and fingerprints up to date.

    Idempotent (it runs at every start). The old table was keyed by `key` alone: each row
    gets the actor recorded with its last event as its subject (rows of commands that
    changed nothing have no event and keep the subject '', which no caller matches; a
    retry of such a no-op simply runs again). Rows keep a NULL fingerprint, which
    `commands.idempotency.check_replay` treats as "check what can be checked".
    """
    table = SQL("{}.{}").format(Identifier(schema), Identifier(IDEMPOTENCY))
    meta = SQL("{}.{}").format(Identifier(schema), Identifier(EVENT_META))
    return [
        SQL(
            "DO $$ BEGIN "
            "IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = format('%I.%I', {schema}, {name})::regclass "
            "AND i.indisprimary AND a.attname = 'subject') THEN "
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS subject text NOT NULL DEFAULT '', "
            "ADD COLUMN IF NOT EXISTS fingerprint text; "
            "UPDATE {table} AS t SET subject = m.actor FROM {meta} AS m "
            "WHERE m.position = t.position AND m.actor IS NOT NULL AND t.subject = ''; "
            "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {pkey}; "
            "ALTER TABLE {table} ADD CONSTRAINT {pkey} PRIMARY KEY (subject, key); "
            "END IF; END $$"
        ).format(
            table=table,
            meta=meta,
            pkey=Identifier(IDEMPOTENCY_PKEY),
            schema=Literal(schema),
            name=Literal(IDEMPOTENCY),
        ),
    ]
