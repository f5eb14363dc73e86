"""Fixtures both trees share; nothing here touches a server.

Layout: `tests/unit/` (pure code; `make test-fast`), `tests/integration/` (real
PostgreSQL and broker, started once per session by its own conftest; every test there
is marked `integration` automatically), `tests/support/` (pure helpers both use).
"""

from __future__ import annotations

import pytest


@pytest.fixture
def master_key() -> str:
    """A fresh master key (wraps each customer's data key)."""
    from commands.crypto import generate_master_key

    return generate_master_key()
