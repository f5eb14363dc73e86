"""End to end: GraphQL mutations over HTTP, and commit → read-model lag.

On one database, the real `crm relay`, `crm worker projections` and `crm gateway`
run as processes. Measured:

- mutations/s and p50/p99 latency of `clients` concurrent HTTP clients, each sending
  its customers' mutations in order (`bench.mutations`), while relay and worker
  carry every event on to the read models, as in production;
- baseline, interleaved with each repeat: the plain `eventsourcing` loop doing the
  same operations in process (`bench.baseline`), on a database of its own;
- lag at an offered 1,000 events/s (`bench.lag`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.baseline import run_baseline
from bench.cpu import (
    Parts,
    describe,
    median_parts,
    per_request_ms,
    platform_meter,
    postmaster,
    process_and_server,
)
from bench.document import Size, median_rate, now, row, target
from bench.lag import measure_lag
from bench.load import run_load
from bench.mutations import bodies_per_client, mutation_ops
from bench.processes import bench_platform
from bench.server import new_topic, scratch_database
from bench.stats import Run, summarise
from commands.crypto import generate_master_key

LAG_RATE = 1000.0
LAG_P99_TARGET_MS = 250.0

Log = Callable[[str], None]


@dataclass(frozen=True)
class EndToEndConfig:
    size: Size
    operations: int
    clients: int
    repeats: int
    lag_rates: tuple[float, ...]  # the first is the target's rate; others for context
    lag_seconds: float

    @classmethod
    def make(cls, size: Size, clients: int | None = None, repeats: int | None = None) -> Any:
        base = {
            "tiny": cls("tiny", 30, 4, 2, (200.0,), 1.0),
            "quick": cls("quick", 400, 16, 1, (LAG_RATE,), 4.0),
            "full": cls("full", 2000, 16, 3, (LAG_RATE, 300.0), 20.0),
        }[size]
        return cls(
            size,
            base.operations,
            clients or base.clients,
            repeats or base.repeats,
            base.lag_rates,
            base.lag_seconds,
        )


def run_end_to_end(
    server_url: str, bootstrap: str, config: EndToEndConfig, log: Log
) -> dict[str, Any]:
    started = now()
    key = generate_master_key()
    http: list[Run] = []
    plain: list[Run] = []
    cpu: dict[str, list[Parts]] = {"baseline": [], "mutations": []}  # per repeat
    with (
        scratch_database(server_url, "bench_e2e") as url,
        bench_platform(url, bootstrap, new_topic("bench.e2e"), key) as platform,
    ):
        headers = platform.headers()
        server = postmaster(url)
        used = platform_meter(platform, server)
        for repeat in range(config.repeats):
            ops = mutation_ops(config.operations, seed=repeat)
            log(f"end to end {repeat + 1}/{config.repeats}: plain loop, {len(ops)} commands")
            with scratch_database(server_url, "bench_e2e_plain") as plain_url:
                before = process_and_server(server, "plain loop")
                plain.append(run_baseline(plain_url, ops))
                cpu["baseline"].append(
                    per_request_ms(before, process_and_server(server, "plain loop"), len(ops))
                )
            log(f"end to end {repeat + 1}/{config.repeats}: {config.clients} HTTP clients")
            before = used()
            http.append(
                run_load(platform.graphql_url, headers, bodies_per_client(ops, config.clients))
            )
            cpu["mutations"].append(per_request_ms(before, used(), len(ops)))
            platform.check_alive()
        lags = []
        for rate in config.lag_rates:
            log(f"end to end: lag at {rate:,.0f} events/s for {config.lag_seconds:.0f} s")
            lags.append(measure_lag(url, key, rate=rate, seconds=config.lag_seconds))
            platform.check_alive()
    results: dict[str, Any] = {
        "baseline": {
            **summarise(plain, "commands"),
            "cpu_ms_per_command": median_parts(cpu["baseline"]),
        },
        "mutations": {
            **summarise(http, "commands"),
            "cpu_ms_per_command": median_parts(cpu["mutations"]),
        },
        "lag": lags[0],
        "lag_other_rates": lags[1:],
    }
    return document(config, results, started)


def document(config: EndToEndConfig, results: dict[str, Any], started: str) -> dict[str, Any]:
    base = median_rate(results["baseline"], "commands")
    rate = median_rate(results["mutations"], "commands")
    rates = {"baseline": base, "mutations": rate}
    latency = results["mutations"]["latency_ms"]
    lag = results["lag"]
    lag_goal = f"p99 < {LAG_P99_TARGET_MS:.0f} ms at {LAG_RATE:,.0f}/s"
    return {
        "benchmark": "end_to_end",
        "size": config.size,
        "config": asdict(config),
        "started_at": started,
        "finished_at": now(),
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
        "summary": [
            row(
                f"GraphQL mutations over HTTP, {config.clients} clients",
                rate,
                "mut/s",
                baseline=base,
                p50_ms=latency["p50"],
                p99_ms=latency["p99"],
                target="≥ plain in-process loop",
                met=rate >= base,
            ),
            row(
                f"commit → read-model lag at {lag['achieved_rate']:,.0f} ev/s offered "
                f"(carried {lag['carried_rate']:,.0f}/s)",
                lag["lag_ms"]["p99"],
                "ms p99",
                p50_ms=lag["lag_ms"]["p50"],
                p99_ms=lag["lag_ms"]["p99"],
                target=lag_goal,
                met=lag["lag_ms"]["p99"] < LAG_P99_TARGET_MS and not lag["unseen"],
            ),
            *[_lag_row(other) for other in results["lag_other_rates"]],
        ],
        "targets": {
            "mutations_vs_plain_loop": target(1.0, rate / base if base else 0.0),
            "lag_p99_ms": target(LAG_P99_TARGET_MS, lag["lag_ms"]["p99"], at_most=True),
        },
        "notes": [
            describe(label, results[name]["cpu_ms_per_command"], rates[name], "cmd/s", "command")
            for name, label in (
                ("baseline", "plain in-process loop"),
                ("mutations", "GraphQL mutations over HTTP"),
            )
            if results[name].get("cpu_ms_per_command")
        ],
    }


def _lag_row(lag: dict[str, Any]) -> dict[str, Any]:
    """Lag at a rate the pipeline may sustain: context for the target's row."""
    return row(
        f"commit → read-model lag at {lag['achieved_rate']:,.0f} ev/s offered "
        f"(carried {lag['carried_rate']:,.0f}/s)",
        lag["lag_ms"]["p99"],
        "ms p99",
        p50_ms=lag["lag_ms"]["p50"],
        p99_ms=lag["lag_ms"]["p99"],
    )
