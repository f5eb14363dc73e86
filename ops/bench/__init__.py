"""Benchmarks (`crm bench ...`, `make bench`): real runs on a real PostgreSQL, results
written to `bench/results/` and shown as a table. Tests run them in quick mode and look
only at the shape of the results, never at the speed.

`BENCHMARKS` maps a name to its runner, so `crm bench all` can run every one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

RESULTS_DIR = Path("bench") / "results"


@dataclass(frozen=True)
class BenchRequest:
    """What every benchmark gets: mode, output folder, server, where to talk."""

    quick: bool
    out_dir: Path
    database_url: str | None
    console: Console
    clients: int | None = None
    repeats: int | None = None


def run_commands(request: BenchRequest) -> Path:
    """(a) plain loop, (b) single path and group commit, (c) bulk path."""
    import time

    from ops.bench.commands import BenchConfig, run_commands_bench, table, write_result
    from ops.bench.server import bench_server

    config = BenchConfig.make(quick=request.quick, clients=request.clients, repeats=request.repeats)

    def log(message: str) -> None:
        request.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")

    with bench_server(request.database_url) as server_url:
        result = run_commands_bench(server_url, config, log)
    path = write_result(result, request.out_dir)
    request.console.print(table(result))
    for name, target in result["targets"].items():
        verdict = "[green]met[/green]" if target["met"] else "[red]missed[/red]"
        request.console.print(
            f"target {name}: {target['measured']:,} vs {target['target']:,} {verdict}"
        )
    request.console.print(f"results: {path}")
    return path


BENCHMARKS: dict[str, Callable[[BenchRequest], Path]] = {"commands": run_commands}
