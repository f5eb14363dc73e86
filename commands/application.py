"""The event store of the platform: an `eventsourcing` application on PostgreSQL.

`CrmApplication` owns the pieces that must agree with each other: the recorder that writes
the side tables in the events' transaction (`commands.recorder`), the mapper that seals
personal fields (`commands.mapper`), the key ring (`commands.keys`), and snapshotting.
Business rules stay in aggregates; command handling in `commands.service`.

Configuration is explicit: the environment given to the library is built here from the
arguments, never read from ``os.environ``, so a stray ``CIPHER_TOPIC`` or ``POSTGRES_*``
variable in a process cannot silently change how events are stored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar
from uuid import UUID

import psycopg
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import (
    InfrastructureFactory,
    JSONTranscoder,
    Mapper,
    Notification,
    Recording,
    StoredEvent,
)
from eventsourcing.utils import Environment, EnvType, get_topic, resolve_topic
from psycopg.conninfo import conninfo_to_dict

from aggregates.customer import Customer
from commands.crypto import (
    KeyDestroyed,
    MasterKey,
    derive_email_secret,
    derive_stream_signing_key,
    email_digest,
    parse_master_key,
)
from commands.keys import KeyRing
from commands.loader import AggregateLoader
from commands.mapper import CrmMapper
from commands.pool_checks import CheckoutPing
from commands.recorder import CrmRecorder, WriteEffects
from commands.save_plan import cast_uuid
from commands.transcoder import crm_transcoder
from events.base import CustomerScoped

DEFAULT_SNAPSHOT_INTERVAL = 50


LIBRARY_PARAMS = frozenset({"dbname", "host", "port", "user", "password"})
"""What the library takes as ``POSTGRES_*``; every other URL parameter is `extra_params`."""


def postgres_env(database_url: str) -> dict[str, str]:
    """``POSTGRES_*`` settings of the library from a URL or a libpq conninfo string."""
    params = conninfo_to_dict(database_url)
    return {
        "POSTGRES_DBNAME": str(params.get("dbname") or "postgres"),
        "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(params.get("port") or "5432"),
        "POSTGRES_USER": str(params.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(params.get("password") or ""),
    }


def extra_params(database_url: str) -> dict[str, Any]:
    """The URL's libpq parameters the library has no ``POSTGRES_*`` for: `sslmode`,
    `sslrootcert`, `options`, `target_session_attrs`, `application_name`, keepalives…
    They go to its pool's connection arguments, so the event store connects exactly as
    every other connection made from the same URL."""
    return {k: v for k, v in conninfo_to_dict(database_url).items() if k not in LIBRARY_PARAMS}


def default_snapshotting(interval: int) -> dict[type[Aggregate], int]:
    """Customers are the long streams (touches, purchases); complaints stay short."""
    return {Customer: interval}


class CrmApplication(Application[UUID]):
    """PostgreSQL event store with per-customer encryption and same-transaction side tables.

    `database_url`: a ``postgresql://`` URL or libpq conninfo. `master_key`: base64 AES key
    wrapping the customer keys. `snapshot_interval`: a Customer is snapshotted every that
    many events (`snapshotting` overrides the whole mapping, e.g. for tests). The pool has
    `pool_size` connections kept open plus `max_overflow` on demand: sized for a handful
    of request threads and the key/idempotency look-ups they make between saves.
    """

    name = "CrmApplication"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {}

    def __init__(
        self,
        database_url: str,
        *,
        master_key: str | bytes,
        snapshot_interval: int = DEFAULT_SNAPSHOT_INTERVAL,
        snapshotting: Mapping[type[Aggregate], int] | None = None,
        pool_size: int = 8,
        max_overflow: int = 16,
        aggregate_cache_size: int = 2000,
        key_cache_ttl: float = 5.0,
        email_secret: bytes | None = None,
        env: Mapping[str, str] | None = None,
        prepared_statements: bool = True,
    ) -> None:
        """`prepared_statements=False` behind a transaction-pooling PgBouncer (< 1.21), where
        a statement prepared on one server connection is unknown on the next."""
        self._connection_args: dict[str, Any] = {
            **extra_params(database_url),
            **({} if prepared_statements else {"prepare_threshold": None}),
        }
        master = parse_master_key(master_key)
        self.master_key = MasterKey(master)
        self.email_secret = email_secret or derive_email_secret(master)
        self.stream_signing_key = derive_stream_signing_key(master)  # streams/signing.py
        self.keys = KeyRing(self.master_key, self._fetch_wrapped_keys, ttl=key_cache_ttl)
        intervals = (
            dict(snapshotting)
            if snapshotting is not None
            else default_snapshotting(snapshot_interval)
        )
        # Per instance, so two applications in one process may differ (tests do).
        self.snapshotting_intervals = intervals  # type: ignore[misc]
        settings: dict[str, str] = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": get_topic(CrmRecorder),
            "CREATE_TABLE": "y",
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(max_overflow),
            "POSTGRES_CONNECT_TIMEOUT": "30",
            # Check each pooled connection on checkout: after a PostgreSQL restart the idle
            # ones are dead, and handing one out would fail a read or write (AdminShutdown).
            "POSTGRES_PRE_PING": "y",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
            "POSTGRES_LOCK_TIMEOUT": "30",
            "AGGREGATE_CACHE_MAXSIZE": str(aggregate_cache_size),
            "IS_SNAPSHOTTING_ENABLED": "y" if intervals else "n",
            **postgres_env(database_url),
            **(env or {}),
        }
        with _creating_alone(database_url, settings["CREATE_TABLE"] == "y"):
            super().__init__(env=settings)
        assert isinstance(self.recorder, CrmRecorder)
        _replace_dead_connections_at_once(self.recorder.datastore.pool)
        self.recorder.snapshots_table_name = (
            f"{self.recorder.events_table_name.removesuffix('_events')}_snapshots"
            if self.snapshots is not None
            else None
        )
        self.loader = AggregateLoader(self, maxsize=aggregate_cache_size)

    # -- construction hooks ------------------------------------------------------------------

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the explicit settings; an unnamed environment keeps the table names
        ``stored_events`` / ``stored_snapshots`` that the other components read."""
        return Environment("", dict(env or {}))

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        """The library's factory, its pool given the URL's other parameters before it opens."""
        factory = super().construct_factory(env)
        pool = getattr(getattr(factory, "datastore", None), "pool", None)
        if pool is not None and isinstance(pool.kwargs, dict):
            pool.kwargs.update(self._connection_args)
        return factory

    def construct_transcoder(self) -> JSONTranscoder:
        return crm_transcoder()

    def construct_mapper(self) -> Mapper[UUID]:
        return CrmMapper(self.construct_transcoder(), self.keys)

    @property
    def crm_mapper(self) -> CrmMapper:
        assert isinstance(self.mapper, CrmMapper)
        return self.mapper

    @property
    def crm_recorder(self) -> CrmRecorder:
        assert isinstance(self.recorder, CrmRecorder)
        return self.recorder

    @property
    def transcoder(self) -> JSONTranscoder:
        """The transcoder personal fields are sealed with (`commands.sealed_reader`)."""
        transcoder = self.crm_mapper.transcoder
        assert isinstance(transcoder, JSONTranscoder)
        return transcoder

    def max_position(self) -> int:
        """The store's newest global position (0 while it is empty)."""
        return self.recorder.max_notification_id() or 0

    def _fetch_wrapped_keys(self, customer_ids: Sequence[UUID]) -> Mapping[UUID, bytes]:
        return self.crm_recorder.select_wrapped_keys(customer_ids)

    # -- writing -----------------------------------------------------------------------------

    def email_digest(self, email: str) -> bytes:
        """The reservation key of an email (HMAC under the server secret)."""
        return email_digest(self.email_secret, email)

    def record(
        self,
        events: Sequence[DomainEventProtocol[UUID]],
        *,
        aggregates: Sequence[Aggregate] = (),
        effects: WriteEffects,
        new_ciphers: Mapping[UUID, Any] | None = None,
    ) -> list[Recording[UUID]]:
        """Save `events` (in this order) in one transaction with their side effects.

        Keys are staged and settled around the save (`KeyRing.writing`). `aggregates` are
        the objects that made the events: their pending events are cleared afterwards and
        those that crossed a snapshot interval are snapshotted.
        """
        events = list(events)  # a caller may pass an aggregate's live pending list
        # The library's `save` minus its per-object protocol checks (`isinstance` against a
        # runtime Protocol, ~30 µs an event): these are events, recorded as they are.
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.events.extend(events)
        processing.saved_kwargs["effects"] = effects
        with self.keys.writing(new_ciphers or {}, forgetting=effects.destroyed_keys):
            recordings = self._record(processing)
        self._notify(recordings)
        for aggregate in aggregates:
            aggregate.collect_events()
        self._snapshot_crossed(aggregates, events)
        self._refresh_cache(aggregates, effects.destroyed_keys)
        return recordings

    def _refresh_cache(self, aggregates: Sequence[Aggregate], forgotten: set[UUID]) -> None:
        """Give the saved aggregates back to the loader (`commands.loader`), so the next
        load only asks "anything newer?". Forgotten customers are evicted instead (from
        the library's cache too): cached objects hold decrypted state."""
        self.loader.give_back(a for a in aggregates if a.id not in forgotten)
        self.loader.forget(forgotten)
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in forgotten:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot from the aggregates in memory, not by re-reading their streams."""
        aggregates = [a for a in processing_event.aggregates.values() if isinstance(a, Aggregate)]
        self._snapshot_crossed(aggregates, processing_event.events)

    def _snapshot_crossed(
        self, aggregates: Sequence[Aggregate], events: Sequence[DomainEventProtocol[UUID]]
    ) -> None:
        """Snapshot each aggregate whose new events crossed a multiple of its interval.

        The library re-reads the stream to snapshot at the exact version that crossed the
        interval; the saved aggregate already holds the committed state, so snapshot it
        at its current version instead (no extra round trip, same effect on loading).
        """
        if self.snapshots is None or not self.snapshotting_intervals:
            return
        by_id = {aggregate.id: aggregate for aggregate in aggregates}
        crossed: dict[UUID, Aggregate] = {}
        for event in events:
            aggregate = by_id.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if aggregate is not None and interval and event.originator_version % interval == 0:
                crossed[aggregate.id] = aggregate
        for aggregate in crossed.values():
            snapshot_class = getattr(type(aggregate), "Snapshot", None)
            if snapshot_class is None:
                continue
            try:
                self.snapshots.put([snapshot_class.take(aggregate)])
            except KeyDestroyed:
                continue  # forgotten in this very save: nothing worth keeping

    # -- reading -----------------------------------------------------------------------------

    def decode_notification(self, notification: StoredEvent, *, redact: bool = False) -> Any:
        """The event object of a stored event; personal fields None if redacted or forgotten."""
        return self.crm_mapper.decode(notification, redact=redact)

    def notification_state(
        self, notification: StoredEvent, *, redact: bool = False
    ) -> dict[str, Any]:
        """The event's fields as a plain dict (upcast), personal fields opened or None."""
        return self.crm_mapper.decode_state(notification, redact=redact)

    def prefetch_keys(self, notifications: Iterable[Notification]) -> None:
        """Warm the key ring for a batch (one query), before decoding it event by event."""
        ids: set[UUID] = set()
        for notification in notifications:
            # Complaint facts name their customer inside the state: left to lazy loading.
            if issubclass(resolve_topic(notification.topic), CustomerScoped):
                continue
            originator = notification.originator_id
            ids.add(cast_uuid(originator))
        self.keys.prefetch(ids)


def _replace_dead_connections_at_once(pool: Any) -> None:
    """Ping a checkout only after an idle second, and replace every dead connection at
    once when one is found (`commands.pool_checks`)."""
    ping = getattr(pool, "_check", None)
    if ping is None:  # not the psycopg_pool this was written against: keep its own check
        return
    pool._check = CheckoutPing(ping, pool.check)


CREATE_LOCK = 0x63726D5F73746F72  # "crm_stor"


@contextlib.contextmanager
def _creating_alone(database_url: str, creating: bool) -> Iterator[None]:
    """Hold a session advisory lock while the library creates the store's types, tables,
    indexes and functions. `crm up`'s processes all open the store at once (and again
    after PostgreSQL restarts); the library's `CREATE TYPE` / `CREATE TABLE IF NOT EXISTS`
    run concurrently fail ("duplicate key … pg_type", "tuple concurrently updated") and
    end a process, which costs it a restart."""
    if not creating:
        yield
        return
    # A transaction-scoped lock held by an open transaction: through a transaction-pooling
    # PgBouncer a session lock would stay on whichever server connection took it.
    with (
        psycopg.connect(database_url, connect_timeout=30) as conn,
        conn.transaction(),
    ):
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (CREATE_LOCK,))
        yield
