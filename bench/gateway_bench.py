"""Gateway: 360° profile and list queries over HTTP, beside `{ __typename }`.

A demo history is recorded and the read models rebuilt (`streams.rebuild`), then the
real `crm gateway` process serves them alone (no relay or worker competing for the two
cores). `clients` concurrent HTTP clients send, per repeat and interleaved, `requests`
of each query: `{ __typename }` (the baseline: HTTP, auth, GraphQL parse and execute
with no data), the 360° profile of random customers, and list pages under filters.
Target: each data query at least half the baseline's requests/s.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.cpu import (
    Budget,
    Parts,
    budget_at,
    describe,
    machine_cores,
    median_parts,
    per_request_ms,
    platform_meter,
    postmaster,
)
from bench.document import Size, median_rate, now, row, target
from bench.history import seed_read_models
from bench.load import Body, repeat_for_clients, run_load
from bench.processes import GATEWAY, bench_platform
from bench.queries import TYPENAME, list_bodies, profile_bodies
from bench.server import new_topic, scratch_database
from bench.stats import Run, summarise
from commands.crypto import generate_master_key

RATIO_TARGET = 0.5
QUERIES = ("typename", "profile_360", "list")
GATEWAY_PART = "gateway"
SINGLE_PROCESS = (GATEWAY_PART, "load generator")
"""Parts that are one interpreter each: one core at most."""

Log = Callable[[str], None]


@dataclass(frozen=True)
class GatewayConfig:
    size: Size
    customers: int
    requests: int
    clients: int
    repeats: int

    @classmethod
    def make(cls, size: Size, clients: int | None = None, repeats: int | None = None) -> Any:
        base = {
            "tiny": cls("tiny", 20, 40, 4, 1),
            "quick": cls("quick", 300, 400, 16, 1),
            "full": cls("full", 4000, 3000, 16, 3),
        }[size]
        return cls(
            size, base.customers, base.requests, clients or base.clients, repeats or base.repeats
        )


def run_gateway(server_url: str, bootstrap: str, config: GatewayConfig, log: Log) -> dict[str, Any]:
    started = now()
    key = generate_master_key()
    runs: dict[str, list[Run]] = {name: [] for name in QUERIES}
    cpu: dict[str, list[Parts]] = {name: [] for name in QUERIES}  # per repeat
    with scratch_database(server_url, "bench_gateway") as url:
        log(f"gateway: seeding {config.customers:,} customers, rebuilding the read models")
        ids = seed_read_models(url, key, customers=config.customers)
        bodies: dict[str, list[Body]] = {
            "typename": [TYPENAME],
            "profile_360": profile_bodies(ids, config.requests),
            "list": list_bodies(),
        }
        server = postmaster(url)
        with bench_platform(url, bootstrap, new_topic("bench.gw"), key, (GATEWAY,)) as platform:
            headers = platform.headers("admin")
            used = platform_meter(platform, server)

            for repeat in range(config.repeats):
                for name in QUERIES:
                    log(
                        f"gateway {repeat + 1}/{config.repeats}: {name}, {config.requests} requests"
                    )
                    work = repeat_for_clients(bodies[name], config.clients, config.requests)
                    before = used()
                    runs[name].append(run_load(platform.graphql_url, headers, work))
                    cpu[name].append(per_request_ms(before, used(), config.requests))
                platform.check_alive()
    results: dict[str, Any] = {name: summarise(r, "requests") for name, r in runs.items()}
    for name in QUERIES:
        results[name]["cpu_ms_per_request"] = median_parts(cpu[name])
    results["data"] = {"customers": len(ids), "cpus": machine_cores()}
    return document(config, results, started)


def document(config: GatewayConfig, results: dict[str, Any], started: str) -> dict[str, Any]:
    base = median_rate(results["typename"], "requests")
    summary, targets = [], {}
    labels = {
        "typename": "`{ __typename }`",
        "profile_360": "360° profile query",
        "list": "list query (page of 20, filters)",
    }
    for name in QUERIES:
        rate = median_rate(results[name], "requests")
        latency = results[name]["latency_ms"]
        is_base = name == "typename"
        summary.append(
            row(
                f"{labels[name]}, {config.clients} clients",
                rate,
                "req/s",
                baseline=None if is_base else base,
                p50_ms=latency["p50"],
                p99_ms=latency["p99"],
                target="baseline" if is_base else f"≥ {RATIO_TARGET:.0%} of __typename",
                met=None if is_base else rate / base >= RATIO_TARGET,
            )
        )
        if not is_base:
            targets[f"{name}_vs_typename"] = target(RATIO_TARGET, rate / base if base else 0.0)
    notes = [
        describe(
            labels[name],
            results[name]["cpu_ms_per_request"],
            median_rate(results[name], "requests"),
        )
        for name in QUERIES
        if "cpu_ms_per_request" in results[name]
    ]
    for name, budget in budgets_at_target(results, base).items():
        results[name]["budget_at_target"] = {**asdict(budget), "fits": budget.fits}
        notes.append(budget.sentence(f"{labels[name]}, {RATIO_TARGET:.0%} of the baseline,"))
    return {
        "benchmark": "gateway",
        "size": config.size,
        "config": asdict(config),
        "started_at": started,
        "finished_at": now(),
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
        "summary": summary,
        "targets": targets,
        "notes": notes,
    }


def budgets_at_target(results: dict[str, Any], base: float) -> dict[str, Budget]:
    """Whether the target rate fits this machine at each data query's measured CPU: a
    ratio missed for want of cores told apart from one missed for want of speed in one
    part (none where the run has no CPU figures or no baseline)."""
    cpus = results.get("data", {}).get("cpus")
    budgets = {}
    for name in QUERIES[1:]:
        per_request = results[name].get("cpu_ms_per_request")
        if per_request and cpus and base:
            rate = RATIO_TARGET * base
            budgets[name] = budget_at(per_request, rate, cpus, SINGLE_PROCESS, GATEWAY_PART)
    return budgets
