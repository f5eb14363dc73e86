"""`crm up`: the whole platform as supervised processes, embedded servers included.

Order of events:

1. preflight: every setting that can be checked before starting anything is checked,
   and a bad one ends the command with one line naming it (port in use, unreachable
   external database or broker, data folder not writable, folder already in use);
2. the servers: the embedded PostgreSQL and Tansu on free ports (or nothing, when
   `CRM_DATABASE_URL` / `CRM_KAFKA_BOOTSTRAP` name external ones), each ready
   before the next tier starts;
3. the components, each a `crm ...` child process that gets the resolved settings
   through `CRM_*` variables: `crm gateway` (× `gateways`, all serving the one socket
   `crm up` bound), `crm relay`, `crm worker NAME` (× `workers` for the topic workers);
4. once `/healthz` answers 200: `D/endpoints.json` and the GraphQL URL on stdout;
5. supervision until SIGINT/SIGTERM, then a stop in reverse order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from ops.config import Settings
from ops.errors import SettingError
from ops.heartbeat import write_json_atomic
from ops.lock import DataDirLock
from ops.supervisor import ChildSpec, StartupError, Supervisor, replicas
from streams.kafka_clients import PLAINTEXT, KafkaSecurity

GATEWAY_METRICS = "gateway-metrics"
SERVER_STOP_TIMEOUT = 20.0
COMPONENT_STOP_TIMEOUT = 10.0
RESTART_BASE_DELAY = 0.25  # first backoff of a child that died young; doubles to 10 s
HEALTHY_TIMEOUT = 120.0  # only a warning: supervision goes on either way
SUPERVISOR_FILE = "supervisor.json"

Log = Callable[[str], None]


def redact(url: str) -> str:
    """A URL fit for an error message: the password replaced by ***."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def crm_command(*args: str) -> list[str]:
    """A `crm ...` command line: the process list shows `crm gateway`, `crm worker x`."""
    script = Path(sys.executable).with_name("crm")
    if script.exists():
        return [sys.executable, str(script), *args]
    found = shutil.which("crm")
    if found:
        return [found, *args]
    return [sys.executable, "-m", "ops", *args]


def worker_names() -> list[str]:
    from streams.worker_main import WORKERS

    return list(WORKERS)


# -- preflight ---------------------------------------------------------------


def check_port(settings: Settings) -> Settings:
    """The gateway port must be free; port 0 means pick one."""
    from ops.embedded.ports import free_port, port_in_use

    if settings.port == 0:
        return settings.model_copy(update={"port": free_port(settings.local_host)})
    if port_in_use(settings.host, settings.port):
        raise SettingError(
            "CRM_PORT",
            f"{settings.host}:{settings.port} is already in use; "
            "choose another port with --port or CRM_PORT",
        )
    return settings


def open_listener(settings: Settings) -> socket.socket:
    """The gateways' one listening socket, bound here and inherited by every gateway.

    One accept queue shared by N gateway processes (what uvicorn's and gunicorn's own
    workers do): the kernel hands each connection to whichever gateway accepts first,
    and while a gateway restarts after a crash, connections wait in the queue instead of
    being refused or reset (which SO_REUSEPORT, a queue per process, would do).
    """
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((settings.host, settings.port))
    except OSError as error:
        listener.close()
        raise SettingError(
            "CRM_PORT", f"cannot listen on {settings.host}:{settings.port}: {error.strerror}"
        ) from None
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def check_data_dir(settings: Settings) -> None:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.data_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise SettingError(
            "CRM_DATA_DIR", f"{settings.data_dir} is not a writable folder ({error.strerror})"
        ) from None
    # Folders `crm up` makes inside the data folder: a file in the way would end the
    # start with a traceback much later, so name it now.
    for folder in (settings.logs_dir, settings.run_dir, settings.data_dir / "pgdata"):
        if folder.exists() and not folder.is_dir():
            raise SettingError(
                "CRM_DATA_DIR", f"{folder} is a file, but must be a folder: move it away"
            )


def check_database(url: str, timeout: int = 3) -> None:
    """An external PostgreSQL must answer and be version 14 or newer."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=timeout, autocommit=True) as conn:
            version = conn.info.server_version
    except (psycopg.Error, OSError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SettingError(
            "CRM_DATABASE_URL", f"cannot connect to {redact(url)}: {reason}"
        ) from None
    if version < 140000:
        raise SettingError(
            "CRM_DATABASE_URL", f"{redact(url)} runs PostgreSQL {version}; 14 or newer is needed"
        )


def check_broker(
    bootstrap: str,
    topic: str,
    partitions: int,
    replication_factor: int = 1,
    timeout: float = 3.0,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """An external Kafka must be reachable; the topic is created when missing."""
    reachable = False
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except (OSError, ValueError):
            continue
        reachable = True
        break
    if not reachable:
        raise SettingError(
            "CRM_KAFKA_BOOTSTRAP", f"cannot reach any Kafka bootstrap server in {bootstrap!r}"
        )
    try:
        ensure_topic_retrying(
            bootstrap,
            topic,
            partitions,
            timeout=10.0,
            security=security,
            replicas=replication_factor,
        )
    except Exception as error:
        raise SettingError(
            "CRM_KAFKA_BOOTSTRAP", f"cannot create topic {topic!r} on {bootstrap}: {error}"
        ) from None


def ensure_topic_retrying(
    bootstrap: str,
    topic: str,
    partitions: int,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    security: KafkaSecurity = PLAINTEXT,
    replicas: int = 1,
) -> None:
    """`ensure_topic`, retried while a just-started broker finishes starting."""
    from streams.topic import ensure_topic

    deadline = time.monotonic() + timeout
    while True:
        try:
            ensure_topic(bootstrap, topic, partitions, security, replicas)
            return
        except Exception:
            if time.monotonic() > deadline or not alive():
                raise
            time.sleep(0.2)


def check_tracing() -> None:
    """The OTEL_* variables every child reads at start: refused here, once, rather than by
    each child on every restart."""
    from ops import telemetry

    try:
        telemetry.exporter_names()
    except ValueError as error:
        raise SettingError("OTEL_TRACES_EXPORTER", str(error).split(": ", 1)[-1]) from None


def preflight(settings: Settings) -> Settings:
    """Check every setting that can be checked before anything starts."""
    check_tracing()
    check_data_dir(settings)
    settings = check_port(settings)
    if settings.database_url:
        check_database(settings.database_url)
    direct = settings.relay_session_url  # behind a transaction pooler, the relays need it
    if direct:
        check_database(direct)
    if settings.kafka_bootstrap:
        check_broker(
            settings.kafka_bootstrap,
            settings.kafka_topic,
            settings.kafka_partitions,
            settings.kafka_replication_factor,
            security=settings.kafka_security,
        )
    return settings


# -- what runs -----------------------------------------------------------------


@dataclass
class Plan:
    """The resolved endpoints and every child to supervise."""

    settings: Settings
    database_url: str
    kafka_bootstrap: str
    specs: list[ChildSpec] = field(default_factory=list)
    reader_url: str | None = None  # the embedded server's read-only role, for analysts
    listen_fd: int | None = None  # the gateways' shared socket (`open_listener`)

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CRM_DATA_DIR=str(self.settings.data_dir),
            CRM_DATABASE_URL=self.database_url,
            CRM_KAFKA_BOOTSTRAP=self.kafka_bootstrap,
            CRM_KAFKA_TOPIC=self.settings.kafka_topic,
            CRM_HOST=self.settings.host,
            CRM_PORT=str(self.settings.port),
            CRM_KAFKA_PARTITIONS=str(self.settings.kafka_partitions),
            CRM_KAFKA_REPLICATION_FACTOR=str(self.settings.kafka_replication_factor),
            PYTHONUNBUFFERED="1",
        )
        env.pop("CRM_PROCESS_NAME", None)  # each replica gets its own (`replicas`)
        env.pop("CRM_LISTEN_FD", None)
        return env

    def endpoints(self) -> dict[str, Any]:
        return {
            "graphql": self.settings.graphql_url,
            "health": self.settings.health_url,
            "database": self.database_url,
            **({"database_reader": self.reader_url} if self.reader_url else {}),
            "kafka": {"bootstrap": self.kafka_bootstrap, "topic": self.settings.kafka_topic},
            "analytics": {"duckdb": str(self.settings.analytics_path)},
        }


def server_specs(settings: Settings) -> tuple[list[ChildSpec], str, str, str | None]:
    """The embedded servers that are needed, the database URL and bootstrap to use, and
    (embedded only) the read-only role's URL."""
    specs: list[ChildSpec] = []
    reader_url: str | None = None
    logs = settings.logs_dir
    database_url = settings.database_url
    bootstrap = settings.kafka_bootstrap
    if not database_url:
        from ops.embedded.postgres import EmbeddedPostgres, EmbeddedPostgresError

        pg = EmbeddedPostgres(settings.data_dir / "pgdata")
        try:
            database_url = pg.url  # the app role: the platform never runs as superuser
        except EmbeddedPostgresError as error:
            raise SettingError("CRM_DATA_DIR", str(error)) from None
        reader_url = pg.reader_url

        def pg_ready(process: Any) -> None:
            pg.wait_ready(timeout=60.0, process=process)

        specs.append(
            ChildSpec(
                name="postgres",
                command=pg.command(),
                user=pg.user,
                log_path=logs / "postgres.log",
                tier=0,
                stop_signal=signal.SIGINT,  # fast shutdown; SIGTERM waits for every client
                stop_timeout=SERVER_STOP_TIMEOUT,
                ready=pg_ready,
                before_start=pg.prepare,
            )
        )
    if not bootstrap:
        from ops.embedded.kafka import EmbeddedKafka

        kafka = EmbeddedKafka()
        bootstrap = kafka.bootstrap

        def kafka_ready(process: Any) -> None:
            kafka.wait_ready(timeout=30.0, process=process)
            # Tansu keeps topics in memory: after every (re)start the topic is made again.
            ensure_topic_retrying(
                kafka.bootstrap,
                settings.kafka_topic,
                settings.kafka_partitions,
                timeout=20.0,
                alive=lambda: process.poll() is None,
            )

        specs.append(
            ChildSpec(
                name="kafka",
                command=kafka.command(),
                log_path=logs / "kafka.log",
                tier=1,
                stop_signal=signal.SIGINT,
                stop_timeout=SERVER_STOP_TIMEOUT,
                ready=kafka_ready,
            )
        )
    return specs, database_url, bootstrap, reader_url


TOPIC_WORKERS = ("projections", "analytics")
"""Workers that consume the topic: `--workers N` runs N of each, one consumer group. The
lifecycle scheduler reads the read models, not the topic, and stays one process."""


def plan(settings: Settings, listen_fd: int | None = None) -> Plan:
    servers, database_url, bootstrap, reader_url = server_specs(settings)
    result = Plan(settings, database_url, bootstrap, servers, reader_url, listen_fd)
    env = result.child_env()

    def component(name: str, *args: str) -> ChildSpec:
        return ChildSpec(
            name=name,
            command=crm_command(*args),
            env=env,
            log_path=settings.logs_dir / f"{name}.log",
            tier=2,
            stop_timeout=COMPONENT_STOP_TIMEOUT,
            heartbeat=True,
        )

    def prepare() -> None:
        from ops.keys import master_key
        from ops.schema import prepare_database

        prepare_database(database_url, master_key(settings))

    gateway = component("gateway", "gateway")
    if listen_fd is not None:
        gateway = dataclasses.replace(
            gateway, env={**env, "CRM_LISTEN_FD": str(listen_fd)}, pass_fds=(listen_fd,)
        )
    # prometheus_client's multiprocess mode: each gateway writes its histogram to files
    # here and `/metrics` sums them all, whichever gateway answers (the run folder is
    # emptied at each start, as that mode needs).
    metrics = settings.run_dir / GATEWAY_METRICS
    metrics.mkdir(parents=True, exist_ok=True)
    gateway = dataclasses.replace(
        gateway, env={**(gateway.env or {}), "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    )
    gateways = replicas(gateway, settings.gateways)
    # The first component: its start creates every table, before any process races to.
    gateways[0] = dataclasses.replace(gateways[0], before_start=prepare)
    result.specs.extend(gateways)
    # One relay leads (a PostgreSQL advisory lock), the others stand by to take over.
    result.specs.extend(replicas(component("relay", "relay"), settings.relays))
    for worker in worker_names():
        count = settings.workers if worker in TOPIC_WORKERS else 1
        result.specs.extend(replicas(component(f"worker-{worker}", "worker", worker), count))
    return result


# -- running -------------------------------------------------------------------


class Signals:
    """SIGINT/SIGTERM set `stopping`; a second one sets `forced` (no more waiting)."""

    def __init__(self) -> None:
        self.stopping = False
        self.forced = False
        self.received: str | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            self.forced = True
        self.stopping = True
        self.received = signal.Signals(signum).name

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def healthz_ok(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _clear_run_state(settings: Settings) -> None:
    shutil.rmtree(settings.run_dir, ignore_errors=True)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        settings.endpoints_file.unlink()


def _warn_partitions(the_plan: Plan, log: Log) -> None:
    """Name a live topic narrower than the partition setting (it is not widened by itself:
    `crm topic widen` cuts over to a wider one); after a widening, the topic events go to."""
    import psycopg

    from streams.topic import partition_shortfall
    from streams.topic_cuts import current, load_cuts

    settings = the_plan.settings
    try:
        with psycopg.connect(the_plan.database_url, connect_timeout=3, autocommit=True) as conn:
            topic = current(settings.kafka_topic, load_cuts(conn, settings.kafka_topic))
        warning = partition_shortfall(the_plan.kafka_bootstrap, topic, settings.kafka_partitions)
    except Exception as error:  # the broker's health is /healthz's business
        warning = f"could not count the topic's partitions: {error}"
    if warning:
        log(f"warning: {warning}")


def _warn_connections(the_plan: Plan, log: Log) -> None:
    """Name a server that takes fewer connections than the processes may open. Behind a
    transaction pooler the limit is the pooler's `max_client_conn`, which the server
    cannot tell, so nothing is said there."""
    import psycopg

    from ops.connections import SERVER_ROOM, connection_budget, shortfall

    if the_plan.settings.database_pooler == "transaction":
        return
    needed = connection_budget(the_plan.settings, [spec.name for spec in the_plan.specs])
    try:
        with psycopg.connect(the_plan.database_url, connect_timeout=3, autocommit=True) as conn:
            row = conn.execute(SERVER_ROOM).fetchone()
    except Exception as error:  # the database's health is /healthz's business
        log(f"warning: could not read the server's connection limit: {error}")
        return
    warning = shortfall(needed, row[0]) if row else None
    if warning:
        log(f"warning: {warning}")


@dataclass
class Running:
    """What an `on_healthy` hook gets: the plan, the supervisor, the time it took."""

    plan: Plan
    supervisor: Supervisor
    seconds_to_healthy: float


def run_up(
    settings: Settings,
    log: Log,
    announce: Log,
    on_healthy: Callable[[Running], None] | None = None,
) -> None:
    """Bring everything up and supervise until a signal; raises SettingError/StartupError."""
    from ops.keys import jwt_secret, master_key

    began = time.monotonic()
    signals = Signals()
    signals.install()
    settings = preflight(settings)
    if signals.stopping:
        return
    with DataDirLock(settings.data_dir):
        _clear_run_state(settings)
        settings.logs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Generated on first start, before any child needs them.
        jwt_secret(settings)
        master_key(settings)
        listener = open_listener(settings)
        the_plan = plan(settings, listener.fileno())
        supervisor = Supervisor(
            the_plan.specs,
            status_path=settings.run_dir / SUPERVISOR_FILE,
            log=log,
            base_delay=RESTART_BASE_DELAY,
            heartbeat_dir=settings.run_dir,
        )
        try:
            supervisor.start(should_stop=lambda: signals.stopping)
            _warn_partitions(the_plan, log)
            _warn_connections(the_plan, log)
            healthy = False
            warned = False
            while not signals.stopping:
                supervisor.tick()
                if not healthy and healthz_ok(settings.health_url):
                    healthy = True
                    took = time.monotonic() - began
                    write_json_atomic(settings.endpoints_file, the_plan.endpoints(), mode=0o600)
                    announce(f"healthy in {took:.1f}s")
                    announce(f"GraphQL: {settings.graphql_url}")
                    announce(f"endpoints: {settings.endpoints_file}")
                    if on_healthy is not None:
                        on_healthy(Running(the_plan, supervisor, took))
                elif not healthy and not warned and time.monotonic() - began > HEALTHY_TIMEOUT:
                    warned = True
                    log(f"not healthy after {HEALTHY_TIMEOUT:.0f}s; see {settings.health_url}")
                # Each tick notices dead children: its interval is part of every recovery.
                signals.sleep(0.1)
        finally:
            log(f"stopping ({signals.received or 'error'})")
            supervisor.stop(force=lambda: signals.forced)
            listener.close()
            _clear_run_state(settings)
            log("stopped")


__all__ = ["Plan", "Running", "StartupError", "plan", "preflight", "run_up"]
