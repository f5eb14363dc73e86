"""PNG charts of a run (matplotlib, Agg backend: no display on a server or in CI).

- `<stem>-ratios.png`: every measurement that has a baseline, as its ratio, beside
  the target ratio where the issue sets one;
- `<stem>-latency.png`: p50 and p99 of every measurement that has them;
- `<stem>-scale.png`: disk per event, rebuild time and query p99 against events, the
  extrapolation to 20M drawn dashed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt


def draw_charts(doc: dict[str, Any], out_dir: Path, stem: str) -> list[Path]:
    paths = [
        _ratios(doc, out_dir / f"{stem}-ratios.png"),
        _latency(doc, out_dir / f"{stem}-latency.png"),
    ]
    scale = doc["scenarios"].get("scale")
    if scale and scale["results"].get("points"):
        paths.append(_scale(scale["results"], out_dir / f"{stem}-scale.png"))
    return [p for p in paths if p is not None]


def _label(line: dict[str, Any]) -> str:
    return f"{line['scenario']}: {line['measure']}"[:60]


def _ratios(doc: dict[str, Any], path: Path) -> Path | None:
    lines = [line for line in doc["summary"] if line["ratio"] is not None]
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(lines) + 1.5))
    colours = [
        "tab:green" if line["met"] else "tab:red" if line["met"] is False else "tab:blue"
        for line in lines
    ]
    ax.barh([_label(line) for line in lines], [line["ratio"] for line in lines], color=colours)
    ax.axvline(1.0, color="grey", linewidth=0.8)
    ax.set_xscale("log")  # ratios span 0.03× to 20×
    ax.set_xlabel("ratio to the baseline measured in the same run (green: target met)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _latency(doc: dict[str, Any], path: Path) -> Path | None:
    lines = [line for line in doc["summary"] if line["p99_ms"] is not None]
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(lines) + 1.5))
    labels = [_label(line) for line in lines]
    ax.barh(labels, [line["p99_ms"] for line in lines], color="tab:orange", label="p99")
    ax.barh(labels, [line["p50_ms"] or 0 for line in lines], color="tab:blue", label="p50")
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log scale)")
    ax.legend()
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _scale(results: dict[str, Any], path: Path) -> Path:
    points = results["points"]
    fitted = results.get("extrapolated") or {}
    xs = [p["events"] for p in points]
    series = (
        ("bytes per event", [p["bytes_per_event"] for p in points], "bytes_per_event"),
        ("full rebuild, s", [p["rebuild_seconds"] for p in points], "rebuild_seconds"),
        (
            "360° query p99, ms",
            [p["query_ms"]["profile_360"]["p99"] for p in points],
            "profile_360_p99_ms",
        ),
        ("list query p99, ms", [p["query_ms"]["list"]["p99"] for p in points], "list_p99_ms"),
    )
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, (title, ys, key) in zip(axes.flat, series, strict=True):
        ax.plot(xs, ys, "o-", label="measured")
        if key in fitted:
            goal = fitted["to_events"]
            ax.plot(
                [xs[-1], goal], [ys[-1], fitted[key]], "x--", color="grey", label="extrapolated"
            )
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel("events in the store")
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
