"""Run benchmarks as one run: servers up once, each scenario in turn, one report.

The servers are the configured ones (`CRM_DATABASE_URL`, `CRM_KAFKA_BOOTSTRAP`) or
embedded ones started for the run; every scenario works in databases and topics of its
own on them, so a run never touches other data.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import BENCHMARKS, BenchRequest
from bench.document import now
from bench.report import combined, machine, rich_table, write_report
from bench.server import bench_broker, bench_server

NEEDS_BROKER = frozenset({"end_to_end", "streams", "gateway", "gateways"})


def run_suite(names: Sequence[str], request: BenchRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run `names` in order; returns (the combined document, the written paths).

    Files: `<out>/<UTC stamp>.json|.md|-*.png` for a run of every benchmark, with
    `-<name>` added to the stem for a run of some of them.
    """
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ValueError(
            f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}"
        )
    started = now()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    stem = stamp if set(names) == set(BENCHMARKS) else f"{stamp}-{'-'.join(names)}"
    with contextlib.ExitStack() as stack:
        server_url = stack.enter_context(bench_server(request.database_url))
        bootstrap = request.kafka_bootstrap
        if NEEDS_BROKER.intersection(names):  # no broker started for nothing
            bootstrap = stack.enter_context(bench_broker(request.kafka_bootstrap))
        ready = dataclasses.replace(request, database_url=server_url, kafka_bootstrap=bootstrap)
        info = machine(server_url)
        scenarios: dict[str, dict[str, Any]] = {}
        for name in names:
            request.log(f"[bold]{name}[/bold] ({request.size})")
            try:
                scenarios[name] = BENCHMARKS[name](ready)
            except Exception as error:  # the others still run and the report says why
                request.console.print_exception()
                scenarios[name] = failed(name, request.size, error)
    doc = combined(scenarios, request.size, info, started)
    paths = write_report(doc, request.out_dir, stem)
    if stem == stamp and request.size == "full":
        # The newest full run of everything, under a fixed name the README links to
        # (`latest.md` and its charts are committed; the JSON stays ignored).
        write_report(doc, request.out_dir, "latest")
    request.console.print(rich_table(doc))
    for goal, value in doc["targets"].items():
        verdict = "[green]met[/green]" if value["met"] else "[red]missed[/red]"
        request.console.print(
            f"target {goal}: {value['measured']:,} vs {value['target']:,} {verdict}"
        )
    for kind, path in paths.items():
        shown = ", ".join(str(p) for p in path) if isinstance(path, list) else str(path)
        request.console.print(f"{kind}: {shown}")
    broken = [name for name, result in scenarios.items() if "error" in result]
    if broken:
        raise BenchFailed(f"benchmark(s) failed: {', '.join(broken)}; see {paths['markdown']}")
    return doc, paths


class BenchFailed(RuntimeError):
    """A scenario raised; the report was still written, with its error."""


def failed(name: str, size: str, error: Exception) -> dict[str, Any]:
    return {
        "benchmark": name,
        "size": size,
        "error": f"{type(error).__name__}: {error}",
        "results": {},
        "summary": [],
        "targets": {},
    }


def written(paths: dict[str, Any]) -> list[Path]:
    out: list[Path] = []
    for value in paths.values():
        out.extend(value if isinstance(value, list) else [value])
    return out
