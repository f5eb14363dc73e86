"""Helpers both test trees may import: pure code only (no servers, no processes).

Helpers that need PostgreSQL, the broker or a `crm` subprocess live in
`tests/integration/support/`; helpers only the unit tests use, in `tests/unit/support/`.
"""
