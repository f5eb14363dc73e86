"""Gateways: mutations and queries per second with 1 gateway process, then with 2.

One database and one workload for both: a demo history is seeded and its read models
rebuilt once; then, per configuration, `count` real `crm gateway` processes serve one
inherited listening socket (as `crm up --gateways N` runs them) and `clients` HTTP
clients send the 360° profile and list queries, then the mutation mix of the end-to-end
scenario (`bench.mutations`: new customers on every run, payloads ask for the position
only). No relay or worker runs: the gateways, PostgreSQL and the load generator are what
share the machine's cores. Repeats alternate the order (1 then 2, 2 then 1) so a drift
of the machine's load does not favour one side.

On this 2-core machine the gain is bounded by the cores the other processes need:
PostgreSQL's commits and the load generator's loop run beside the gateways, so
`speedup` is reported as measured (bench/NOTES.md reads it against the profiles).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from bench.document import Size, median_rate, now, row
from bench.history import seed_read_models
from bench.load import Body, repeat_for_clients, run_load
from bench.mutations import bodies_per_client, mutation_ops
from bench.processes import GATEWAY, bench_platform
from bench.queries import list_bodies, profile_bodies
from bench.server import new_topic, scratch_database
from bench.stats import Run, summarise
from commands.crypto import generate_master_key

COUNTS = (1, 2)
WORKLOADS = ("mutations", "queries")

Log = Callable[[str], None]


@dataclass(frozen=True)
class GatewaysConfig:
    size: Size
    customers: int  # seeded, for the queries to read
    queries: int  # per run: 360° profiles and list pages, interleaved
    mutations: int  # per run
    clients: int
    repeats: int

    @classmethod
    def make(cls, size: Size, clients: int | None = None, repeats: int | None = None) -> Any:
        base = {
            "tiny": cls("tiny", 20, 40, 30, 4, 1),
            "quick": cls("quick", 300, 800, 400, 16, 2),
            "full": cls("full", 3000, 3000, 2000, 16, 4),
        }[size]
        return cls(
            size,
            base.customers,
            base.queries,
            base.mutations,
            clients or base.clients,
            repeats or base.repeats,
        )


def query_bodies(ids: list[str], count: int) -> list[Body]:
    """360° profiles and list pages, alternating: what a screen of the CRM sends."""
    profiles = profile_bodies(ids, count)
    lists = list_bodies()
    return [profiles[n] if n % 2 == 0 else lists[n % len(lists)] for n in range(count)]


def orders(repeats: int) -> Iterator[tuple[int, ...]]:
    """(1, 2), (2, 1), (1, 2), ...: each configuration goes first as often as the other."""
    for repeat in range(repeats):
        yield COUNTS if repeat % 2 == 0 else tuple(reversed(COUNTS))


def run_gateways(
    server_url: str, bootstrap: str, config: GatewaysConfig, log: Log
) -> dict[str, Any]:
    started = now()
    key = generate_master_key()
    runs: dict[int, dict[str, list[Run]]] = {n: {w: [] for w in WORKLOADS} for n in COUNTS}
    load_during: dict[int, list[float]] = {n: [] for n in COUNTS}
    cpu: dict[int, list[list[float]]] = {n: [] for n in COUNTS}  # per run, per gateway
    with scratch_database(server_url, "bench_gateways") as url:
        log(f"gateways: seeding {config.customers:,} customers, rebuilding the read models")
        ids = seed_read_models(url, key, customers=config.customers)
        queries = query_bodies(ids, config.queries)
        seed = 0
        for repeat, order in enumerate(orders(config.repeats)):
            for count in order:
                log(f"gateways {repeat + 1}/{config.repeats}: {count} gateway(s)")
                with bench_platform(
                    url, bootstrap, new_topic("bench.gws"), key, (GATEWAY,), gateways=count
                ) as platform:
                    headers = platform.headers("admin")
                    cpu_before = platform.cpu_seconds("gateway")
                    work = repeat_for_clients(queries, config.clients, config.queries)
                    runs[count]["queries"].append(run_load(platform.graphql_url, headers, work))
                    seed += 1  # new customers every run: registrations never collide
                    ops = mutation_ops(config.mutations, seed=1000 + seed)
                    writes = bodies_per_client(ops, config.clients)
                    runs[count]["mutations"].append(run_load(platform.graphql_url, headers, writes))
                    load_during[count].append(round(os.getloadavg()[0], 2))
                    cpu_after = platform.cpu_seconds("gateway")
                    cpu[count].append(
                        [round(cpu_after[n] - cpu_before[n], 2) for n in sorted(cpu_before)]
                    )
                    platform.check_alive()
    results: dict[str, Any] = {
        f"gateways_{n}": {
            "queries": summarise(runs[n]["queries"], "requests"),
            "mutations": summarise(runs[n]["mutations"], "commands"),
            "loadavg_1m_after_each_run": load_during[n],
            # CPU seconds each gateway process spent on a run's load: with 2, both share it
            "gateway_cpu_s_per_run": cpu[n],
        }
        for n in COUNTS
    }
    results["speedup"] = {
        workload: round(_rate(results, 2, workload) / _rate(results, 1, workload), 2)
        if _rate(results, 1, workload)
        else 0.0
        for workload in WORKLOADS
    }
    results["data"] = {"customers": len(ids), "cpus": os.cpu_count()}
    return document(config, results, started)


def _rate(results: dict[str, Any], count: int, workload: str) -> float:
    unit = "commands" if workload == "mutations" else "requests"
    return median_rate(results[f"gateways_{count}"][workload], unit)


def document(config: GatewaysConfig, results: dict[str, Any], started: str) -> dict[str, Any]:
    summary = []
    for workload, unit in (("mutations", "mut/s"), ("queries", "req/s")):
        one = _rate(results, 1, workload)
        for count in COUNTS:
            latency = results[f"gateways_{count}"][workload]["latency_ms"]
            label = "GraphQL mutations" if workload == "mutations" else "360° + list queries"
            summary.append(
                row(
                    f"{label}, {count} gateway{'s' if count > 1 else ''}, {config.clients} clients",
                    _rate(results, count, workload),
                    unit,
                    baseline=None if count == 1 else one,
                    p50_ms=latency["p50"],
                    p99_ms=latency["p99"],
                    target="baseline" if count == 1 else "reported (2 cores: gain bounded)",
                )
            )
    return {
        "benchmark": "gateways",
        "size": config.size,
        "config": asdict(config),
        "started_at": started,
        "finished_at": now(),
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
        "summary": summary,
        "targets": {},
    }
