"""Unit tests: pure code, run without any server (`make test-fast`).

The server fixtures (`servers`, `database_url`, `app`, `conn`, ...) live in
`tests/integration/conftest.py`, so a unit test cannot start PostgreSQL or the broker
by asking for one: it gets "fixture not found" and belongs in `tests/integration/`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse an `integration` mark here: `-m "not integration"` would hide the test
    from the fast loop while it still sits where servers are never started."""
    for item in items:
        if item.path.is_relative_to(HERE) and item.get_closest_marker("integration"):
            raise pytest.UsageError(
                f"{item.nodeid}: marked integration but under tests/unit; "
                "move it to tests/integration"
            )
