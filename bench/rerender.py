"""Render a run's Markdown and charts again from its JSON, without measuring anything:
`python -m bench.rerender bench/results/<stamp>.json [--latest]`.

For changes to the presentation or the scale scenario's extrapolation (a fit of the
measured points): the measured numbers are read back as they were written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.report import gather, write_report
from bench.scale import ScaleConfig, document


def refit_scale(scale: dict[str, Any]) -> dict[str, Any]:
    config = ScaleConfig(**{**scale["config"], "steps": tuple(scale["config"]["steps"])})
    results = scale["results"]
    fresh = document(config, results["points"], scale["started_at"], results.get("customers"))
    return {**fresh, "finished_at": scale["finished_at"], "loadavg_after": scale["loadavg_after"]}


def rerender(path: Path, *, latest: bool = False) -> None:
    doc = json.loads(path.read_text())
    scenarios = doc["scenarios"]
    scale = scenarios.get("scale")
    if scale and scale["results"].get("points"):
        scenarios["scale"] = refit_scale(scale)
    doc.update(gather(scenarios))
    write_report(doc, path.parent, path.stem)
    if latest:
        write_report(doc, path.parent, "latest")


if __name__ == "__main__":
    rerender(Path(sys.argv[1]), latest="--latest" in sys.argv[2:])
