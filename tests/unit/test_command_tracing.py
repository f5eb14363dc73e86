"""The write side's spans are made only once a tracer provider is set (commands.tracing).

In a process of its own: OpenTelemetry lets the global provider be set once, and the
unit tests' process may have set it already (tests/support/tracing.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from contextlib import nullcontext
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from commands import tracing

print(tracing.tracing(), type(tracing.command_span("RegisterCustomer")) is nullcontext)
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
with tracing.round_span([]), tracing.command_span("RegisterCustomer"), tracing.commit_span(1):
    pass
print(tracing.tracing(), sorted(span.name for span in exporter.get_finished_spans()))
"""


def test_spans_are_made_once_a_provider_is_set_and_not_before() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    before, after = done.stdout.strip().splitlines()
    assert before == "False True"
    assert after == "True ['command RegisterCustomer', 'commit', 'group commit round']"
