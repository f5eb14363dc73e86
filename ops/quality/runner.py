"""Validate frames against suites with Great Expectations; keep results; write data docs.

The GX project lives in the data dir (``DATA_DIR/analytics/quality-docs/gx``): suites
and validation definitions are re-declared on every run (they are code, here), the
results accumulate, and the data docs site shows every run.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd

from ops.quality.suites import Suite

DATASOURCE = "crm"


@dataclass(frozen=True)
class Outcome:
    suite: str
    expectation: str
    target: str
    """The column(s) or table the expectation is about."""
    success: bool
    detail: str


@dataclass(frozen=True)
class QualityReport:
    outcomes: list[Outcome]
    docs_index: str | None

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]


def _target(kwargs: Mapping[str, Any]) -> str:
    for key in ("column", "column_list"):
        if key in kwargs:
            value = kwargs[key]
            return ", ".join(value) if isinstance(value, list) else str(value)
    if "column_A" in kwargs:
        return f"{kwargs['column_A']} = {kwargs['column_B']}"
    return "table"


KEY_COLUMNS: Final = ("id", "customer_id", "channel", "position", "line_no")
"""Columns that name a frame's row: a failure shows them, so an operator can find the
customer (or event) whose row is wrong."""


def _row(found: Mapping[str, Any], keys: Sequence[str]) -> str:
    named = [f"{k} {found[k]}" for k in keys if k in found]
    values = [f"{k} {v}" for k, v in found.items() if k not in keys]
    return ", ".join(named) + (f": {', '.join(values)}" if values else "")


def _detail(result: Any) -> str:
    found = result.result or {}
    if "unexpected_count" in found:
        keys = found.get("unexpected_index_column_names") or []
        rows = found.get("partial_unexpected_index_list") or []
        if keys and rows and isinstance(rows[0], Mapping):
            shown = "; ".join(_row(r, keys) for r in rows[:3])
        else:
            shown = ", ".join(str(v) for v in (found.get("partial_unexpected_list") or [])[:3])
        return f"{found['unexpected_count']} unexpected" + (f" (e.g. {shown})" if shown else "")
    if "observed_value" in found:
        return f"observed {found['observed_value']}"
    return ""


def _context(project_dir: Path) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(project_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _batch_definition(source: Any, name: str) -> Any:
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    for definition in asset.batch_definitions:
        if definition.name == name:
            return definition
    return asset.add_batch_definition_whole_dataframe(name)


def run_suites(
    frames: Mapping[str, pd.DataFrame],
    suites: Sequence[Suite],
    project_dir: Path,
    *,
    build_docs: bool = True,
) -> QualityReport:
    """Validate `frames[suite.name]` against each suite; a missing frame is a failure."""
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    project_dir.mkdir(parents=True, exist_ok=True)
    context = _context(project_dir)
    source = context.data_sources.add_or_update_pandas(DATASOURCE)
    outcomes: list[Outcome] = []
    for suite in suites:
        frame = frames.get(suite.name)
        if frame is None:
            outcomes.append(Outcome(suite.name, "frame_present", "table", False, "no data"))
            continue
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(
                name=suite.name,
                data=_batch_definition(source, suite.name),
                suite=context.suites.add_or_update(
                    gx.ExpectationSuite(name=suite.name, expectations=list(suite.expectations))
                ),
            )
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            keys = [c for c in KEY_COLUMNS if c in frame.columns]
            result = definition.run(
                batch_parameters={"dataframe": frame},
                result_format={"result_format": "SUMMARY", "unexpected_index_column_names": keys},
            )
        for item in result.results:
            config = item.expectation_config
            outcomes.append(
                Outcome(
                    suite.name,
                    config.type,
                    _target(config.kwargs),
                    bool(item.success),
                    _detail(item) if not item.success else "",
                )
            )
    docs = context.build_data_docs() if build_docs else {}
    return QualityReport(outcomes, next(iter(docs.values()), None))
