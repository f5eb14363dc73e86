"""Access audit: who read which customer's personal data, when, in which role.

Reads are not events (they change nothing), so they are not in the event store; they go
to ``crm_access_log`` in the same database, created with the store's tables
(`commands.access_table`). One row per
customer whose personal fields a request returned, naming the fields (names only: the
log itself must hold no personal data, so it survives an erasure unchanged).

Two ways to append:

- `append_access(app, entries)`: one multi-row INSERT, synchronous. For command-line
  reads (``crm audit replay`` and friends) and tests.
- `AccessLog(app)`: for request handlers. `add()` only queues; a background thread
  writes the queue every `flush_interval` seconds (or at `max_batch` entries) in one
  statement, so a GraphQL response never waits for the log. If the database refuses,
  the entries stay queued and are retried; when the queue holds `max_pending` entries,
  `add()` writes synchronously instead (back-pressure rather than silent loss).
  `close()` writes what is left.

`access_history` is the compliance query behind ``crm audit access CUSTOMER_ID``.

For the GraphQL gateway: one `AccessLog` per process (built with the application,
closed at shutdown); each resolver that returns personal fields, for a role that sees
them, calls ``access_log.record(principal.subject, principal.role.value,
"graphql:<field>", [(customer_id, returned_fields(row, PROFILE_PERSONAL_FIELDS))])``.
Customers whose personal fields all came back null (analyst role, forgotten customer)
are left out by `entries_for`.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg import Connection, sql

from commands.access_table import ACCESS_LOG
from commands.binary_arrays import text_array, uuid_array
from commands.recorder import rendered

if TYPE_CHECKING:
    from commands.application import CrmApplication

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccessEntry:
    """One read of one customer's personal data.

    `actor`: the token's subject; `role`: its role; `fields`: the personal fields
    returned (names); `operation`: what was asked, e.g. ``graphql:customer`` or
    ``cli:audit replay``; `at`: when (default: when it is appended).
    """

    actor: str
    role: str
    customer_id: UUID
    fields: tuple[str, ...]
    operation: str
    at: datetime | None = None


@dataclass(frozen=True)
class AccessRecord:
    """A stored row of the access log."""

    id: int
    at: datetime
    actor: str
    role: str
    customer_id: UUID
    fields: tuple[str, ...]
    operation: str


def _table(schema: str) -> sql.Composable:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(ACCESS_LOG))


@functools.cache
def _insert_statement(schema: str) -> bytes:
    """Binary arrays, the statement rendered once: a list page logs 20 entries, and a
    flush carries every page since the last (psycopg's list dumping was ~5% of a page)."""
    return rendered(
        sql.SQL(
            "INSERT INTO {} (at, actor, role, customer_id, fields, operation) "
            "SELECT a::timestamptz, b, c, d, string_to_array(f, ','), o FROM unnest("
            "%b::text[], %b::text[], %b::text[], %b::uuid[], %b::text[], %b::text[]) "
            "AS u(a, b, c, d, f, o)"
        ).format(_table(schema))
    )


def append_access(app: CrmApplication, entries: Iterable[AccessEntry]) -> int:
    """Write entries in one statement (one round trip); returns how many."""
    batch = list(entries)
    if batch:
        with app.crm_recorder.datastore.transaction(commit=True) as curs:
            _insert(curs, app.crm_recorder.datastore.schema, batch)
    return len(batch)


def append_access_on(
    conn: Connection[Any], entries: Iterable[AccessEntry], schema: str = "public"
) -> int:
    """`append_access` on a connection of the caller's (a verb that reads the read models
    without the application), committed with the caller's transaction."""
    batch = list(entries)
    if batch:
        with conn.cursor() as curs:
            _insert(curs, schema, batch)
    return len(batch)


def _insert(curs: Any, schema: str, batch: Sequence[AccessEntry]) -> None:
    now = datetime.now(UTC)
    for entry in batch:
        bad = [f for f in entry.fields if "," in f]
        if bad:
            raise ValueError(f"field names cannot contain commas: {bad}")
    curs.execute(
        _insert_statement(schema),
        (
            text_array([(e.at or now).isoformat() for e in batch]),
            text_array([e.actor for e in batch]),
            text_array([e.role for e in batch]),
            uuid_array([e.customer_id for e in batch]),
            text_array([",".join(e.fields) for e in batch]),
            text_array([e.operation for e in batch]),
        ),
    )


def access_history(
    app: CrmApplication,
    customer_id: UUID,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10_000,
) -> list[AccessRecord]:
    """Reads of one customer's personal data, oldest first."""
    statement = sql.SQL(
        "SELECT id, at, actor, role, customer_id, fields, operation FROM {} "
        "WHERE customer_id = %s AND at >= coalesce(%s, '-infinity'::timestamptz) "
        "AND at <= coalesce(%s, 'infinity'::timestamptz) ORDER BY at, id LIMIT %s"
    ).format(_table(app.crm_recorder.datastore.schema))
    with app.crm_recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, (customer_id, since, until, limit))
        return [
            AccessRecord(
                id=int(row["id"]),
                at=row["at"],
                actor=row["actor"],
                role=row["role"],
                customer_id=row["customer_id"],
                fields=tuple(row["fields"]),
                operation=row["operation"],
            )
            for row in curs.fetchall()
        ]


@dataclass
class _Queue:
    entries: list[AccessEntry] = field(default_factory=list)
    failures: int = 0


class AccessLog:
    """Batched, non-blocking appends for request handlers (see module docstring)."""

    def __init__(
        self,
        app: CrmApplication,
        *,
        flush_interval: float = 0.5,
        max_batch: int = 2_000,
        max_pending: int = 100_000,
    ) -> None:
        self.app = app
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._queue = _Queue()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crm-access-log", daemon=True)
        self._thread.start()

    def add(self, entries: Iterable[AccessEntry]) -> None:
        """Queue entries, stamped now; never waits on the database unless it is far behind."""
        now = datetime.now(UTC)
        stamped = [e if e.at is not None else _stamped(e, now) for e in entries]
        if not stamped:
            return
        with self._lock:
            self._queue.entries.extend(stamped)
            pending = len(self._queue.entries)
        if pending >= self.max_pending:
            self.flush()
        elif pending >= self.max_batch:
            self._wake.set()

    def record(
        self,
        actor: str,
        role: str,
        operation: str,
        customers: Sequence[tuple[UUID, Sequence[str]]],
    ) -> None:
        """`add` for one request: the personal `fields` it returned for each customer."""
        self.add(entries_for(actor, role, operation, customers))

    def flush(self) -> int:
        """Write everything queued now; returns how many were written."""
        written = 0
        with self._write_lock:
            while True:
                with self._lock:
                    batch = self._queue.entries[: self.max_batch]
                    del self._queue.entries[: len(batch)]
                if not batch:
                    return written
                try:
                    written += append_access(self.app, batch)
                except Exception:
                    with self._lock:
                        self._queue.entries[:0] = batch
                        self._queue.failures += 1
                    raise

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue.entries)

    def close(self) -> None:
        """Stop the writer thread and write what is left."""
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception as error:  # retried on the next tick; never kills the thread
                log.warning("access log: write failed, will retry: %s", error)


def _stamped(entry: AccessEntry, now: datetime) -> AccessEntry:
    return AccessEntry(
        actor=entry.actor,
        role=entry.role,
        customer_id=entry.customer_id,
        fields=entry.fields,
        operation=entry.operation,
        at=now,
    )


PROFILE_PERSONAL_FIELDS = ("name", "email", "phone", "address")
"""The personal fields of a customer profile (read model and aggregate alike)."""

COMPLAINT_PERSONAL_FIELDS = ("description", "escalation_reason", "resolution")
"""The personal fields of a complaint in the read model."""


def returned_fields(values: Mapping[str, Any], names: Iterable[str]) -> tuple[str, ...]:
    """The fields among `names` that a response actually carries (not None)."""
    return tuple(n for n in names if values.get(n) is not None)


def entries_for(
    actor: str,
    role: str,
    operation: str,
    customers: Sequence[tuple[UUID, Sequence[str]]],
) -> list[AccessEntry]:
    """Entries for one request that returned personal `fields` of each customer.

    Customers with no personal field returned (e.g. the analyst role, or a forgotten
    customer) are left out by the caller: an access is a read of personal data.
    """
    return [
        AccessEntry(actor, role, cid, tuple(fields), operation)
        for cid, fields in customers
        if fields
    ]
