"""Every test under tests/integration is marked `integration` by its conftest, so
`-m "not integration"` never selects one that needs the servers (issue 12)."""

from __future__ import annotations

import pytest


def test_this_file_is_marked_integration_without_saying_so(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("integration") is not None
