"""The process shells of `crm gateway`, `crm relay` and `crm worker NAME`.

Each shell resolves the settings (from the `CRM_*` variables `crm up` passes down),
keeps the process's heartbeat in `D/run/<name>.json` and its row in PostgreSQL's process
table, serves `/livez` and `/readyz` (the gateway on its own port, a relay or worker on
`CRM_PROBE_PORT`), turns SIGTERM/SIGINT into a clean return, and hands the real work to
the package that owns it: `gateway.app`, `streams.relay_main`, `streams.worker_main`.
Those packages never import `ops`.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from types import FrameType

from ops.config import Settings
from ops.errors import SettingError
from ops.heartbeat import Heartbeat
from ops.presence import ProbeServer, TableBeat


class StopFlag:
    """Set by SIGTERM/SIGINT. Plain flag plus short sleeps: safe to set from a handler."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._set and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        return self._set

    def install(self) -> StopFlag:
        def handle(signum: int, frame: FrameType | None) -> None:
            self.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
        return self


def _require_servers(settings: Settings, verb: str) -> tuple[str, str]:
    if not settings.database_url:
        raise SettingError(
            "CRM_DATABASE_URL", f"`crm {verb}` needs a database; run it through `crm up` or set it"
        )
    if not settings.kafka_bootstrap:
        raise SettingError(
            "CRM_KAFKA_BOOTSTRAP", f"`crm {verb}` needs Kafka; run it through `crm up` or set it"
        )
    return settings.database_url, settings.kafka_bootstrap


def start_telemetry(component: str, settings: Settings) -> None:
    """JSON (or text) logs and, when the OTEL_* variables ask for it, traces."""
    from ops import telemetry

    try:
        telemetry.configure(component, settings.log_format, settings.log_level)
    except ValueError as error:
        raise SettingError("OTEL_TRACES_EXPORTER", str(error).split(": ", 1)[-1]) from error


def run_stream_process(settings: Settings, kind: str, worker: str | None = None) -> None:
    """`crm relay` (kind "relay") or `crm worker NAME` (kind "worker")."""
    from ops.keys import master_key
    from streams import relay_main, worker_main

    verb = "relay" if kind == "relay" else f"worker {worker}"
    if kind == "worker" and worker not in worker_main.WORKERS:
        raise SettingError(
            "NAME", f"unknown worker {worker!r}; choose one of {', '.join(worker_main.WORKERS)}"
        )
    database_url, bootstrap = _require_servers(settings, verb)
    config = relay_main.StreamConfig(
        database_url=database_url,
        kafka_bootstrap=bootstrap,
        topic=settings.kafka_topic,
        data_dir=settings.data_dir,
        partitions=settings.kafka_partitions,
        master_key=master_key(settings),
        kafka_security=settings.kafka_security,
        timezone=settings.timezone,
        session_url=settings.relay_session_url if kind == "relay" else None,
        keep_messages=settings.relay_keep_messages,
        join_timeout=settings.worker_join_timeout,
        group_prefix=settings.kafka_group_prefix,
    )
    name = settings.process_name or ("relay" if kind == "relay" else f"worker-{worker}")
    start_telemetry(name, settings)
    stop = StopFlag().install()
    try:
        probes = ProbeServer(name, settings.host, settings.probe_port).start()
    except OSError as error:
        raise SettingError(
            "CRM_PROBE_PORT", f"cannot serve probes on port {settings.probe_port}: {error}"
        ) from None
    table = TableBeat(database_url, name, probe=probes.url).start()
    heartbeat = Heartbeat(settings.run_dir, name, listeners=(table.update, probes.update))
    heartbeat.start()
    try:
        if kind == "relay":
            relay_main.run(config, heartbeat.report, stop)
        else:
            assert worker is not None
            worker_main.run(worker, config, heartbeat.report, stop)
    except Exception as error:
        heartbeat.report("error", f"{type(error).__name__}: {error}")
        raise
    finally:
        heartbeat.close()
        table.close()
        probes.close()


def run_gateway(settings: Settings) -> None:
    """`crm gateway`: uvicorn serving `gateway.app:create_app` over the deps the
    composition root builds from the settings."""
    import uvicorn

    from bootstrap import gateway_deps_for
    from gateway.app import create_app, serving_status
    from ops.keys import with_secrets
    from streams.heap import settle

    name = settings.process_name or "gateway"
    start_telemetry(name, settings)
    table = TableBeat(settings.database_url, name) if settings.database_url else None
    listeners = (table.update,) if table else ()
    heartbeat = Heartbeat(settings.run_dir, name, listeners=listeners)
    heartbeat.report("starting", "loading the application")
    heartbeat.start()
    settings = with_secrets(settings)
    app = create_app(settings, deps=gateway_deps_for(settings))
    settle()  # the schema and its libraries are loaded: out of the collector's full passes
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )
    # Under `crm up` every gateway serves the one socket it inherited (`ops.stack`).
    sockets = [socket.socket(fileno=settings.listen_fd)] if settings.listen_fd is not None else None
    if table is not None:
        table.probe = f"http://{settings.local_host}:{settings.port}"
        table.start()

    def report_when_serving() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            heartbeat.report(*serving_status(app))

    threading.Thread(target=report_when_serving, name="gateway-status", daemon=True).start()
    # uvicorn stops gracefully on SIGTERM or SIGINT, then raises the signal again once it
    # has restored the handlers it found. SIGTERM's own handler would end the process
    # there, before this block's cleanup (the process-table row stayed, shown as stale for
    # ten minutes after every `docker stop`); as SIGINT's, it raises KeyboardInterrupt.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass  # the stop asked for: a clean exit
    finally:
        heartbeat.close()
        if table is not None:
            table.close()
    if not server.started:
        raise SystemExit(1)  # could not bind the port: uvicorn logged why
