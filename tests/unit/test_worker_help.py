"""`crm worker --help` names the workers that `crm worker NAME` accepts."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from ops.cli import app
from streams.worker_main import WORKERS


def test_the_worker_help_names_exactly_the_workers_there_are() -> None:
    result = CliRunner().invoke(app, ["worker", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    line = next(text for text in result.output.splitlines() if "Which processor" in text)
    named = set(re.findall(r"[a-z]+", line.split("Which processor:", 1)[1].split(".")[0])) - {"or"}
    assert named == set(WORKERS), line
