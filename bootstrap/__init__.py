"""The composition root: the one place that builds the platform's parts and wires them.

It builds, from resolved settings (a database URL, a master key, …):

- the event store application (`open_store` / `store`), its pool sized for the kind of
  process that asks (`POOLS`: the gateway serves many request threads, the relay and a
  worker one consumer each, a schema check one connection);
- the command service (`command_service`);
- the gateway's dependencies (`gateway_deps`, `gateway_deps_for(settings)`);
- the outbox relay (`relay`);
- the workers' sinks (`read_model_sink`, `analytics_sink`) and what they open sealed
  fields with: a `SealedReader` (`sealed_reader`: the key ring, the transcoder, the
  signing key and the store's newest position, on one connection), so a worker never
  builds the whole store application.

Who asks it: the process entries in `ops` (`crm gateway` builds the deps here and hands
them to `gateway.app.create_app`; `crm up`'s schema step; every verb through
`ops.runtime.open_application`), the stream process bodies (`streams.relay_main`,
`streams.worker_main`, inside `run` only), `demo` and `bench`.

It may import everything. Nothing in `commands`, `gateway`, `projections` or the stream
library modules imports it: they receive what they need, so they stay testable alone.
Settings are resolved by the caller (`ops.runtime` knows where the URL and key come
from), which keeps this module free of `ops`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from commands.application import DEFAULT_SNAPSHOT_INTERVAL, CrmApplication
from commands.key_check import verify_master_key
from commands.sealed_reader import SealedReader, SealedSource
from commands.service import CommandService
from projections.business_time import DEFAULT_TIMEZONE
from streams.wire import EnvelopesAtCommit

if TYPE_CHECKING:
    from aggregates.policy import Policy
    from gateway.deps import GatewayDeps, Limits
    from gateway.settings import GatewaySettings
    from projections.analytics.writer import AnalyticsSink
    from streams.relay import Relay
    from streams.relay_main import StreamConfig
    from streams.sink import ReadModelSink

ProcessKind = Literal[
    "gateway", "relay", "worker", "command", "schema", "seed", "probe", "bench", "rebuild"
]


@dataclass(frozen=True)
class PoolSize:
    """Event store connections kept open (`size`) plus those opened on demand (`overflow`)."""

    size: int
    overflow: int = 16


POOLS: Mapping[ProcessKind, PoolSize] = {
    # Many request threads, each with key and idempotency look-ups between saves.
    "gateway": PoolSize(8),
    # One reader thread; one consumer with its key look-ups and lag query.
    "relay": PoolSize(2),
    "worker": PoolSize(2),
    # A `crm` verb: one command at a time and the reads around it.
    "command": PoolSize(4),
    # Creates the tables, then closes.
    "schema": PoolSize(1),
    # `crm seed`: `handle_many` batches, the application's defaults.
    "seed": PoolSize(8),
    # A single look-up (is the store already seeded?).
    "probe": PoolSize(1, overflow=1),
    # A benchmark's side application (loading, reading); scenarios that measure the
    # pool itself pass `pool_size`.
    "bench": PoolSize(2),
    # One of a parallel rebuild's N processes: reads its partition of the store.
    "rebuild": PoolSize(1, overflow=1),
}
"""Pool sizes per process kind: what each process needs, not one size for all."""


def open_store(
    database_url: str,
    master_key: str | bytes,
    *,
    kind: ProcessKind,
    snapshot_interval: int = DEFAULT_SNAPSHOT_INTERVAL,
    pool_size: int | None = None,
    create_tables: bool = True,
    overflow: int | None = None,
) -> CrmApplication:
    """The event store application for a process of `kind`; the caller closes it.

    `create_tables=False` where the tables exist and several processes start at once (a
    parallel rebuild's workers): their CREATEs would collide."""
    pool = POOLS[kind]
    app = CrmApplication(
        database_url,
        master_key=master_key,
        snapshot_interval=snapshot_interval,
        pool_size=pool.size if pool_size is None else pool_size,
        max_overflow=pool.overflow if overflow is None else overflow,
        env=None if create_tables else {"CREATE_TABLE": "n"},
    )
    # Each save writes its events' Kafka messages too: the relay then only moves bytes.
    app.crm_recorder.envelopes = EnvelopesAtCommit(app.stream_signing_key)
    try:
        verify_master_key(app)  # refuse another master key before anything is sealed
    except BaseException:
        app.close()
        raise
    return app


@contextmanager
def store(
    database_url: str,
    master_key: str | bytes,
    *,
    kind: ProcessKind,
    snapshot_interval: int = DEFAULT_SNAPSHOT_INTERVAL,
    pool_size: int | None = None,
) -> Iterator[CrmApplication]:
    """`open_store`, closed afterwards."""
    app = open_store(
        database_url,
        master_key,
        kind=kind,
        snapshot_interval=snapshot_interval,
        pool_size=pool_size,
    )
    try:
        yield app
    finally:
        app.close()


def command_service(app: CrmApplication, policy: Policy | None = None) -> CommandService:
    """The one way to write: commands in, events recorded (with `policy`'s rules)."""
    return CommandService(app, policy)


def gateway_deps(
    database_url: str,
    master_key: str | bytes,
    *,
    limits: Limits | None = None,
    read_pool_size: int = 8,
    store_pool: PoolSize = POOLS["gateway"],
    timezone: str = DEFAULT_TIMEZONE,
    analytics_root: Path | None = None,
) -> GatewayDeps:
    """Deps over one database (event store and read models), with default policy."""
    from commands.group_commit import GroupCommitter
    from compliance.access_log import AccessLog
    from gateway.db import ReadPool
    from gateway.deps import GatewayDeps, Limits

    app = open_store(
        database_url,
        master_key,
        kind="gateway",
        pool_size=store_pool.size,
        overflow=store_pool.overflow,
    )
    return GatewayDeps(
        app=app,
        # Concurrent mutations share transactions (one fsync per round, not per command).
        service=GroupCommitter(command_service(app)),
        reads=ReadPool(database_url, max_size=read_pool_size),
        limits=limits or Limits(),
        access_log=AccessLog(app),
        timezone=timezone,
        analytics_root=analytics_root,
    )


def gateway_deps_for(settings: GatewaySettings) -> GatewayDeps | None:
    """The gateway's deps from the platform settings, or None when the database URL,
    master key or JWT secret is missing (the gateway then serves only `/healthz`)."""
    from gateway.deps import Limits
    from projections.analytics.layout import AnalyticsLayout

    if not (settings.database_url and settings.master_key and settings.jwt_secret):
        return None
    # Settings objects without the knob (older callers, tests) keep the default cap.
    days = getattr(settings, "max_token_ttl_days", Limits.max_token_lifetime.days)
    limits = Limits(max_token_lifetime=timedelta(days=days))
    default = POOLS["gateway"]
    store_pool = PoolSize(
        getattr(settings, "database_pool_gateway", default.size),
        getattr(settings, "database_pool_gateway_overflow", default.overflow),
    )
    return gateway_deps(
        settings.database_url,
        settings.master_key,
        limits=limits,
        read_pool_size=getattr(settings, "database_read_pool", 8),
        store_pool=store_pool,
        timezone=getattr(settings, "timezone", DEFAULT_TIMEZONE),
        # Where `crm audit export` looks too (`Settings.analytics_path`'s folder).
        analytics_root=AnalyticsLayout.for_data_dir(settings.data_dir).root,
    )


@contextmanager
def relay(config: StreamConfig) -> Iterator[Relay]:
    """The outbox relay over its own event store application; both closed afterwards."""
    from streams.relay import Relay

    with store(config.database_url, config.master_key, kind="relay") as app:
        publisher = Relay(
            app,
            config.database_url,
            config.kafka_bootstrap,
            config.topic,
            partitions=config.partitions,
            security=config.kafka_security,
            session_url=config.session_url,
            keep_messages=config.keep_messages,
        )
        try:
            yield publisher
        finally:
            publisher.close()


def sealed_reader(database_url: str, master_key: str | bytes) -> SealedReader:
    """What a worker needs to open sealed fields, check signatures and report lag: the key
    ring on one connection, not the whole store application."""
    reader = SealedReader(database_url, master_key)
    try:
        reader.verify_master_key()  # refuse another master key before any message is read
    except BaseException:
        reader.close()
        raise
    return reader


def read_model_sink(app: SealedSource, database_url: str) -> ReadModelSink:
    """The projections worker's sink: opens sealed fields with `app`'s key ring."""
    from streams.sink import ReadModelSink

    return ReadModelSink(app, database_url)


def analytics_sink(data_dir: Path, zone: str = DEFAULT_TIMEZONE) -> AnalyticsSink:
    """The analytics worker's sink: Parquet files and the DuckDB catalog under `data_dir`,
    business months in `zone` (`CRM_TIMEZONE`)."""
    from projections.analytics.layout import AnalyticsLayout
    from projections.analytics.writer import AnalyticsSink

    return AnalyticsSink(AnalyticsLayout.for_data_dir(data_dir), zone=zone)
