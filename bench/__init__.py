"""Benchmarks (`crm bench ...`, `make bench`): real runs on real servers, results written
to `bench/results/` (JSON, Markdown, PNG charts) and shown as a table. Tests run them on
tiny sizes and look only at the shape of the results, never at the speed.

`BENCHMARKS` maps a name to its runner, so `crm bench all` can run every one of them. A
runner gets a `BenchRequest` whose servers are already up (`bench.suite` starts them
once for the whole run) and returns its result document (`bench.document`).

Developer tooling, kept apart from the runtime: it may import everything (the runtime
packages, `demo` for its histories, dev-only libraries such as pyinstrument in
`bench.profiling`). No runtime module imports it; the `crm bench` and `crm audit bench`
verbs (`ops/verbs`) import it inside the command, so a production install never loads it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

RESULTS_DIR = Path("bench") / "results"


@dataclass(frozen=True)
class BenchRequest:
    """What every benchmark gets: sizes, output folder, servers, where to report."""

    quick: bool
    out_dir: Path
    database_url: str | None
    console: Console
    clients: int | None = None
    repeats: int | None = None
    kafka_bootstrap: str | None = None
    tiny: bool = False  # tests: the smallest sizes that still exercise every path
    scale_max_events: int | None = None

    @property
    def size(self) -> str:
        return "tiny" if self.tiny else "quick" if self.quick else "full"

    def log(self, message: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")

    @property
    def server_url(self) -> str:
        assert self.database_url, "the suite starts or finds the servers before a runner"
        return self.database_url

    @property
    def bootstrap(self) -> str:
        assert self.kafka_bootstrap, "the suite starts or finds the broker before a runner"
        return self.kafka_bootstrap


Runner = Callable[[BenchRequest], dict[str, Any]]


def run_commands(request: BenchRequest) -> dict[str, Any]:
    """(a) plain loop, (b) single path and group commit, (c) bulk path."""
    from bench.commands import BenchConfig, run_commands_bench, with_summary

    config = (
        BenchConfig.tiny()
        if request.tiny
        else BenchConfig.make(quick=request.quick, clients=request.clients, repeats=request.repeats)
    )
    return with_summary(run_commands_bench(request.server_url, config, request.log))


def run_end_to_end(request: BenchRequest) -> dict[str, Any]:
    """GraphQL mutations over HTTP vs the plain loop; commit → read-model lag."""
    from bench.end_to_end import EndToEndConfig
    from bench.end_to_end import run_end_to_end as run

    config = EndToEndConfig.make(request.size, request.clients, request.repeats)
    return run(request.server_url, request.bootstrap, config, request.log)


def run_streams(request: BenchRequest) -> dict[str, Any]:
    """Relay and rebuild events/s vs raw aiokafka produce/consume."""
    from bench.streams_bench import StreamsConfig
    from bench.streams_bench import run_streams as run

    config = StreamsConfig.make(request.size, request.repeats)
    return run(request.server_url, request.bootstrap, config, request.log)


def run_gateway(request: BenchRequest) -> dict[str, Any]:
    """360° and list queries vs `{ __typename }` on the same gateway."""
    from bench.gateway_bench import GatewayConfig
    from bench.gateway_bench import run_gateway as run

    config = GatewayConfig.make(request.size, request.clients, request.repeats)
    return run(request.server_url, request.bootstrap, config, request.log)


def run_gateways(request: BenchRequest) -> dict[str, Any]:
    """Mutations and queries per second with 1 and with 2 gateway processes."""
    from bench.gateways_bench import GatewaysConfig
    from bench.gateways_bench import run_gateways as run

    config = GatewaysConfig.make(request.size, request.clients, request.repeats)
    return run(request.server_url, request.bootstrap, config, request.log)


def run_scale(request: BenchRequest) -> dict[str, Any]:
    """Disk per event, rebuild time, query p99 as the store grows; list and 360° p99 by
    customers (100k, 300k, 1M)."""
    from bench.scale import ScaleConfig
    from bench.scale import run_scale as run

    config = ScaleConfig.make(request.size, request.scale_max_events)
    return run(request.server_url, config, request.log)


def run_analytics(request: BenchRequest) -> dict[str, Any]:
    """Funnel, cohort and RFM on the DuckDB catalog vs the PostgreSQL read models."""
    from bench.analytics_bench import AnalyticsConfig
    from bench.analytics_bench import run_analytics as run

    config = AnalyticsConfig.make(request.size, request.repeats)
    return run(request.server_url, config, request.size, request.log)


def run_compliance(request: BenchRequest) -> dict[str, Any]:
    """`crm audit verify` rate and as-of latency (`bench.audit_bench`)."""
    from bench.audit_bench import AuditBenchConfig, measure_audit
    from bench.document import now, row

    sizes = {"tiny": (2_000, 200), "quick": (100_000, 2_000)}
    events, customer_events = sizes.get(request.size, (1_000_000, 10_000))
    config = AuditBenchConfig.make(
        quick=request.tiny, events=events, customer_events=customer_events
    )
    started = now()
    result = measure_audit(request.server_url, config, request.log)
    verify = result["targets"]["verify_events_per_s"]
    as_of = result["results"]["as_of_ms"]["business"]
    result.update(
        benchmark="compliance",
        size=request.size,
        started_at=started,
        finished_at=now(),
        summary=[
            row(
                f"audit verify, {config.events:,} events (events/s)",
                verify["measured"],
                "events/s",
                target=">= 100,000",
                met=verify["met"],
            ),
            row(
                f"as-of, customer with {config.customer_events:,} events (p95 ms)",
                as_of["p95"],
                "ms",
                p50_ms=as_of["p50"],
                target="< 100 ms",
                met=result["targets"]["as_of_p95_ms"]["met"],
            ),
        ],
    )
    return result


def run_recovery(request: BenchRequest) -> dict[str, Any]:
    """Seconds until serving again after a kill -9 of each part (its own `crm up`)."""
    from bench.recovery import run_recovery as run

    return run(request.size, request.repeats, request.log)


def run_console(request: BenchRequest) -> dict[str, Any]:
    """The web console's first screen, interactive, in headless Chromium (demo data)."""
    from bench.console_bench import ConsoleConfig
    from bench.console_bench import run_console as run

    return run(request.server_url, ConsoleConfig.make(request.size, request.repeats), request.log)


BENCHMARKS: dict[str, Runner] = {
    "commands": run_commands,
    "end_to_end": run_end_to_end,
    "streams": run_streams,
    "gateway": run_gateway,
    "gateways": run_gateways,
    "scale": run_scale,
    "analytics": run_analytics,
    "compliance": run_compliance,
    "recovery": run_recovery,
    "console": run_console,
}
