"""`crm bench commands`: the write side against the plain library, in one run.

Measured, each `repeats` times on fresh databases of one PostgreSQL server, repeats
interleaved (baseline, single, group..., bulk, then again) so that a noisy neighbour
hurts every measurement alike:

(a) baseline: the plain `eventsourcing` loop (`bench.baseline`);
(b) our single-command path: sequential `handle`, and `clients` threads through
    `GroupCommitter` with a shared context and with a context per request;
(c) the bulk path: a demo history through `handle_many` (events/s).

Results: medians over the repeats, p50/p99 latency per command, ratios against the
baseline, the targets and whether they were met, and the machine's load average
before and after (a busy machine explains a bad run). Written to
`<out>/<UTC timestamp>-commands.json`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.baseline import run_baseline
from bench.cpu import (
    Parts,
    describe,
    median_parts,
    per_request_ms,
    postmaster,
    process_and_server,
)
from bench.ours import run_bulk, run_group, run_single
from bench.server import scratch_database, server_version
from bench.stats import Run, summarise
from bench.workload import workload
from commands.crypto import generate_master_key
from demo.command import DEFAULT_BATCH

SINGLE_PATH_TARGET = 5.0  # the single path (under concurrency) vs the plain loop
BULK_TARGET = 20_000.0  # events/s

BULK_PROCESSES = 2
"""The bulk path's worker processes: one per core of the 2-core build machine (one
process does not reach the target; see `demo.parallel`)."""

Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one run; `quick` ones are for tests and smoke checks."""

    quick: bool
    operations: int
    repeats: int
    clients: int
    bulk_customers: int
    batch: int
    window: float
    workers: int
    bulk_processes: int = 1

    @classmethod
    def make(
        cls, *, quick: bool, clients: int | None = None, repeats: int | None = None
    ) -> BenchConfig:
        if quick:
            return cls(
                True, 60, repeats or 2, clients or 4, 100, DEFAULT_BATCH, 0.002, 1, BULK_PROCESSES
            )
        return cls(
            False, 2000, repeats or 5, clients or 16, 2500, DEFAULT_BATCH, 0.002, 1, BULK_PROCESSES
        )

    @classmethod
    def tiny(cls) -> BenchConfig:
        """The smallest run that still takes every path (tests)."""
        return cls(True, 30, 1, 3, 8, 4, 0.002, 1)


MEASUREMENTS = ("baseline", "single", "group_shared", "group_per_request", "bulk")


def run_commands_bench(server_url: str, config: BenchConfig, log: Log) -> dict[str, Any]:
    """Every measurement, `config.repeats` times; returns the result document."""
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    key = generate_master_key()
    ops = workload(config.operations)
    runs: dict[str, list[Run]] = {name: [] for name in MEASUREMENTS}
    cpu: dict[str, list[Parts]] = {name: [] for name in MEASUREMENTS}  # per repeat
    rounds: dict[str, list[float]] = {"group_shared": [], "group_per_request": []}
    server = postmaster(server_url)

    def record(name: str, before: Parts, run: Run) -> None:
        cpu[name].append(per_request_ms(before, process_and_server(server, "Python"), run.units))
        runs[name].append(run)

    for repeat in range(config.repeats):
        log(f"repeat {repeat + 1}/{config.repeats}: baseline")
        with scratch_database(server_url, "bench_plain") as url:
            before = process_and_server(server, "Python")
            record("baseline", before, run_baseline(url, ops))
        log(f"repeat {repeat + 1}/{config.repeats}: single path")
        with scratch_database(server_url, "bench_single") as url:
            before = process_and_server(server, "Python")
            record("single", before, run_single(url, key, ops))
        for name, shared in (("group_shared", True), ("group_per_request", False)):
            log(f"repeat {repeat + 1}/{config.repeats}: {config.clients} clients, {name}")
            with scratch_database(server_url, f"bench_{name}") as url:
                before = process_and_server(server, "Python")
                run, stats = run_group(
                    url,
                    key,
                    ops,
                    clients=config.clients,
                    shared_context=shared,
                    window=config.window,
                    workers=config.workers,
                )
            record(name, before, run)
            rounds[name].append(stats.commands / stats.rounds if stats.rounds else 0.0)
        log(f"repeat {repeat + 1}/{config.repeats}: bulk path")
        with scratch_database(server_url, "bench_bulk") as url:
            # no CPU figure: its clock starts once the history is generated and the
            # workers are up, and their CPU could not leave those out
            runs["bulk"].append(
                run_bulk(
                    url,
                    key,
                    customers=config.bulk_customers,
                    batch=config.batch,
                    seed=repeat,
                    processes=config.bulk_processes,
                )
            )
    results: dict[str, Any] = {}
    for name in MEASUREMENTS:
        unit = "events" if name == "bulk" else "commands"
        results[name] = summarise(runs[name], unit)
        if cpu[name]:
            results[name][f"cpu_ms_per_{unit[:-1]}"] = median_parts(cpu[name])
    for name, sizes in rounds.items():
        results[name]["mean_round_size"] = round(statistics.median(sizes), 2) if sizes else 0.0
    return {
        "benchmark": "commands",
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "quick": config.quick,
        "config": asdict(config),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "postgres": server_version(server_url),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "results": results,
        "ratios": ratios(results),
        "targets": targets(results),
    }


def _median(results: dict[str, Any], name: str) -> float:
    unit = "events" if name == "bulk" else "commands"
    return float(results[name][f"{unit}_per_s"]["median"])


def ratios(results: dict[str, Any]) -> dict[str, float]:
    """Each measurement's median rate over the baseline's (events vs commands for bulk:
    the baseline records one event per command)."""
    base = _median(results, "baseline")
    return {
        f"{name}_vs_baseline": round(_median(results, name) / base, 2) if base else 0.0
        for name in MEASUREMENTS
        if name != "baseline"
    }


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    best_single = max(_median(results, n) for n in ("single", "group_shared", "group_per_request"))
    base = _median(results, "baseline")
    single_ratio = round(best_single / base, 2) if base else 0.0
    bulk = _median(results, "bulk")
    return {
        "single_path_vs_baseline": {
            "target": SINGLE_PATH_TARGET,
            "measured": single_ratio,
            "met": single_ratio >= SINGLE_PATH_TARGET,
        },
        "bulk_events_per_s": {"target": BULK_TARGET, "measured": bulk, "met": bulk >= BULK_TARGET},
    }


def write_result(result: dict[str, Any], out_dir: Path) -> Path:
    """`<out>/<UTC timestamp>-commands.json`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"{stamp}-commands.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path


def table(result: dict[str, Any]) -> Table:
    """The result as a rich table: one row per measurement (each run is in the JSON)."""
    results = result["results"]
    ratio = result["ratios"]
    config = result["config"]
    machine = result["machine"]
    view = Table(
        title=f"crm bench commands ({'quick' if result['quick'] else 'full'}, "
        f"median of {config['repeats']})",
        caption=f"{machine['cpus']} CPUs, PostgreSQL {machine['postgres']}, load average "
        f"{machine['loadavg_before'][0]} before, {machine['loadavg_after'][0]} after",
    )
    for column in ("measurement", "rate", "p50 ms", "p99 ms", "vs (a)"):
        view.add_column(column, justify="left" if column == "measurement" else "right")
    clients = config["clients"]
    labels = {
        "baseline": "(a) plain eventsourcing loop",
        "single": "(b) single path, sequential",
        "group_shared": f"(b) group commit, {clients} clients, shared context",
        "group_per_request": f"(b) group commit, {clients} clients, context/request",
        "bulk": f"(c) bulk handle_many, {config['batch']} customers/batch, "
        f"{config.get('bulk_processes', 1)} process(es)",
    }
    for name in MEASUREMENTS:
        entry = results[name]
        unit = "events" if name == "bulk" else "commands"
        latency = entry.get("latency_ms", {})
        view.add_row(
            labels[name],
            f"{entry[f'{unit}_per_s']['median']:,.0f} {'ev' if name == 'bulk' else 'cmd'}/s",
            f"{latency['p50']:.2f}" if latency else "-",
            f"{latency['p99']:.2f}" if latency else "-",
            "1.00x" if name == "baseline" else f"{ratio[f'{name}_vs_baseline']:.2f}x",
        )
    return view


def with_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The result with the fields the combined report reads (`bench.document`)."""
    from bench.document import row

    results, config = result["results"], result["config"]
    base = _median(results, "baseline")
    best = max(("single", "group_shared", "group_per_request"), key=lambda n: _median(results, n))
    goals = result["targets"]
    rows = [
        _latency_row("plain eventsourcing loop (baseline)", results["baseline"], None),
        _latency_row("single path, sequential", results["single"], base),
        _latency_row(
            f"single path, {config['clients']} clients, group commit ({best})",
            results[best],
            base,
            target=f"≥ {SINGLE_PATH_TARGET:.0f}× plain loop",
            met=goals["single_path_vs_baseline"]["met"],
        ),
        row(
            f"bulk path, handle_many, {config['batch']} customers/batch, "
            f"{config.get('bulk_processes', 1)} process(es)",
            _median(results, "bulk"),
            "ev/s",
            baseline=base,
            target=f"≥ {BULK_TARGET:,.0f} ev/s",
            met=goals["bulk_events_per_s"]["met"],
        ),
    ]
    size = "tiny" if config["operations"] < 60 else "quick" if result["quick"] else "full"
    return {**result, "size": size, "summary": rows, "notes": cpu_notes(results, best)}


def cpu_notes(results: dict[str, Any], best: str) -> list[str]:
    """Each command path's CPU per command: the bench process and PostgreSQL."""
    labels = {
        "baseline": "plain loop",
        "single": "single path, sequential",
        best: f"single path, group commit ({best})",
    }
    return [
        describe(label, parts, _median(results, name), "cmd/s", "command")
        for name, label in labels.items()
        if (parts := results[name].get("cpu_ms_per_command"))
    ]


def _latency_row(
    label: str, entry: dict[str, Any], base: float | None, target: str = "", met: bool | None = None
) -> dict[str, Any]:
    from bench.document import row

    latency = entry["latency_ms"]
    return row(
        label,
        float(entry["commands_per_s"]["median"]),
        "cmd/s",
        baseline=base,
        p50_ms=latency["p50"],
        p99_ms=latency["p99"],
        target=target,
        met=met,
    )
