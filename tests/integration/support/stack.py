"""What a `crm up` on embedded defaults runs, for the tests that start one."""

from __future__ import annotations

HEALTHY_WITHIN = 30.0
COMPONENTS = {"gateway", "relay", "worker-projections", "worker-analytics", "worker-lifecycle"}
# crm up, the components, tansu, and PostgreSQL with its own background processes
EMBEDDED_TREE = 1 + len(COMPONENTS) + 1 + 4
