"""How many connections `crm up` may open, beside how many the server takes.

The formula is docs/deployment.md's ("Connections per process"): a server that takes
fewer starts well (10 connections at rest) and fails under the first burst, when every
pool grows, with `too many clients already`; so `crm up` says it at start instead.
"""

from __future__ import annotations

from typing import Final

from ops.config import Settings

PER_PROCESS: Final = {
    "relay": 20,
    "worker-projections": 4,
    "worker-analytics": 3,
    "worker-lifecycle": 19,
}
"""The most each process opens, fixed by its code (the gateway's come from settings)."""
VERBS: Final = 20
"""Room for a `crm` verb run beside the platform (a rebuild, an import)."""


def gateway_connections(settings: Settings) -> int:
    pools = settings.database_pool_gateway + settings.database_pool_gateway_overflow
    return pools + settings.database_read_pool + 2  # +2: /healthz and /metrics


def connection_budget(settings: Settings, processes: list[str]) -> int:
    """The most connections `processes` (child names as `crm up` runs them, `relay-2`
    counted as a relay) open together, with room for one verb."""
    total = VERBS
    for name in processes:
        kind = name.rsplit("-", 1)[0] if name.rsplit("-", 1)[-1].isdigit() else name
        if kind == "gateway":
            total += gateway_connections(settings)
        else:
            total += PER_PROCESS.get(kind, 0)
    return total


SERVER_ROOM: Final = (
    "SELECT current_setting('max_connections')::int"
    " - current_setting('superuser_reserved_connections')::int"
    " - coalesce(current_setting('reserved_connections', true)::int, 0)"
)
"""Connections the server gives roles that are not superusers (PostgreSQL 16 added
`reserved_connections`; older servers answer null for it)."""


def shortfall(needed: int, room: int) -> str | None:
    if needed <= room:
        return None
    return (
        f"the processes started may open up to {needed} database connections, and the "
        f"server takes {room} (max_connections less its reserved ones): under load new "
        "connections will be refused; lower CRM_DATABASE_POOL_GATEWAY_OVERFLOW or "
        "CRM_GATEWAYS, or raise max_connections (docs/deployment.md, connections)"
    )
