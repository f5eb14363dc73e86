"""Starting another `crm` as a child process: its command line and a clean environment.

Used by the benchmarks (`ops/bench/processes.py`) and by the test harness that runs a
real `crm up` (`chaos/running.py`), so both start `crm` the same way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path


def crm_argv(*args: str) -> list[str]:
    """`crm args...` with this interpreter: the `crm` script beside it, else `-m ops`."""
    script = Path(sys.executable).with_name("crm")
    if script.exists():
        return [sys.executable, str(script), *args]
    return [sys.executable, "-m", "ops", *args]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without any `CRM_*` variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(extra or {})
    return env
