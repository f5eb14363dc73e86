"""Each process's logs and traces, set up once when `crm gateway|relay|worker` starts.

Logs: one JSON object per line (python-json-logger) with the process's component and,
in the gateway, the request id the client got in ``X-Request-ID``; `CRM_LOG_FORMAT=text`
gives plain lines for a developer's terminal.

Traces: OpenTelemetry's SDK, configured by the standard variables. Nothing is exported
unless `OTEL_TRACES_EXPORTER` (`otlp`, `console`) or an `OTEL_EXPORTER_OTLP_ENDPOINT`
(or `..._TRACES_ENDPOINT`) says where; the OTLP exporter reads its own endpoint, headers
and timeouts from `OTEL_EXPORTER_OTLP_*`, the resource from `OTEL_SERVICE_NAME` and
`OTEL_RESOURCE_ATTRIBUTES`. Without them the API's no-op tracer costs next to nothing.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from pythonjsonlogger.json import JsonFormatter

from gateway.logs import RequestIdFilter

LogFormat = Literal["json", "text"]
EXPORTERS = ("otlp", "console", "none")


def configure(component: str, log_format: LogFormat = "json", level: str = "INFO") -> None:
    configure_logging(component, log_format, level)
    configure_tracing(component)


def configure_logging(component: str, log_format: LogFormat, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(_ComponentFilter(component))
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{component}{request_id}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)  # checked by the settings (CRM_LOG_LEVEL)


def exporter_names(environ: dict[str, str] | os._Environ[str] = os.environ) -> list[str]:
    """The span exporters the standard variables ask for ([] = tracing off)."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return []
    named = environ.get("OTEL_TRACES_EXPORTER")
    if named is None:
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return ["otlp"] if endpoint else []
    names = [name.strip() for name in named.split(",") if name.strip()]
    unknown = [name for name in names if name not in EXPORTERS]
    if unknown:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER: unknown exporter {unknown[0]!r}; use {', '.join(EXPORTERS)}"
        )
    return [name for name in names if name != "none"]


def configure_tracing(component: str) -> TracerProvider | None:
    names = exporter_names()
    if not names:
        return None
    service = os.environ.get("OTEL_SERVICE_NAME") or f"crm-{component}"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    trace.set_tracer_provider(provider)
    return provider


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


class _ComponentFilter(logging.Filter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def filter(self, record: logging.LogRecord) -> bool:
        record.component = self.component
        return True
