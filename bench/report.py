"""One run's report: `<stamp>.json` (every scenario's full result), `<stamp>.md` (the
summary table, targets, machine) and the charts; the same table printed with rich."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.document import now
from bench.server import server_version

COLUMNS = ("scenario", "measure", "value", "baseline", "ratio", "p50 ms", "p99 ms", "target", "met")


def machine(server_url: str) -> dict[str, Any]:
    """What explains a number: cores, versions, and how busy the machine was."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgres": server_version(server_url),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }


def combined(
    scenarios: dict[str, dict[str, Any]], size: str, machine_info: dict[str, Any], started: str
) -> dict[str, Any]:
    info = {**machine_info, "loadavg_after": [round(x, 2) for x in os.getloadavg()]}
    doc = {"started_at": started, "finished_at": now(), "size": size, "machine": info}
    return {**doc, **gather(scenarios)}


def gather(scenarios: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The scenarios with their summary rows and targets collected, names prefixed."""
    return {
        "scenarios": scenarios,
        "summary": [
            {"scenario": name, **line} for name, doc in scenarios.items() for line in doc["summary"]
        ],
        "targets": {
            f"{name}.{goal}": value
            for name, doc in scenarios.items()
            for goal, value in doc["targets"].items()
        },
    }


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def cells(line: dict[str, Any]) -> list[str]:
    met = {True: "yes", False: "**no**", None: ""}[line["met"]]
    return [
        line["scenario"],
        line["measure"],
        _number(line["value"], line["unit"]),
        _number(line["baseline"]),
        f"{line['ratio']:.2f}×" if line["ratio"] is not None else "",
        _number(line["p50_ms"]),
        _number(line["p99_ms"]),
        line["target"],
        met,
    ]


def markdown(doc: dict[str, Any], charts: list[Path]) -> str:
    m = doc["machine"]
    lines = [
        f"# Benchmark run {doc['started_at'][:19]}Z ({doc['size']})",
        "",
        f"{m['cpus']} CPUs, Python {m['python']}, PostgreSQL {m['postgres']}, {m['platform']}; "
        f"load average {m['loadavg_before'][0]} before, {m['loadavg_after'][0]} after. "
        "Values are medians over the repeats; ratios are against the baseline measured in "
        "the same run.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(cells(line)) + " |" for line in doc["summary"]]
    met = [name for name, t in doc["targets"].items() if t["met"]]
    missed = [name for name, t in doc["targets"].items() if not t["met"]]
    lines += ["", f"Targets met: {', '.join(met) or 'none'}.", ""]
    lines += [f"Targets missed: {', '.join(missed) or 'none'}.", ""]
    errors = {n: d["error"] for n, d in doc["scenarios"].items() if "error" in d}
    lines += [f"FAILED {name}: {error}" for name, error in errors.items()]
    notes = [(n, note) for n, d in doc["scenarios"].items() for note in d.get("notes", ())]
    lines += [f"- {name}: {note}" for name, note in notes] + ([""] if notes else [])
    lines += [f"![{p.stem}]({p.name})" for p in charts]
    return "\n".join(lines) + "\n"


def rich_table(doc: dict[str, Any]) -> Table:
    m = doc["machine"]
    table = Table(
        title=f"crm bench ({doc['size']})",
        caption=f"{m['cpus']} CPUs, PostgreSQL {m['postgres']}, load average "
        f"{m['loadavg_before'][0]} before, {m['loadavg_after'][0]} after",
    )
    for column in COLUMNS:
        table.add_column(
            column, justify="left" if column in ("scenario", "measure", "target") else "right"
        )
    for line in doc["summary"]:
        table.add_row(*(c.replace("**", "") for c in cells(line)))
    return table


def write_report(doc: dict[str, Any], out_dir: Path, stem: str) -> dict[str, Path | list[Path]]:
    """Writes `<stem>.json`, `<stem>.md` and `<stem>-*.png`; returns the paths."""
    from bench.charts import draw_charts

    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    charts = draw_charts(doc, out_dir, stem)
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(markdown(doc, charts))
    return {"json": json_path, "markdown": md_path, "charts": charts}
