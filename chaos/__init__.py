"""The fault suite (`crm chaos`, `make chaos`): load while killing every part, then proof.

A real `crm up` in a temp data folder; GraphQL writes with idempotency keys (a failed
write is retried with the same key until it is accepted); `kill -9` of the relay, each
worker, the broker and PostgreSQL, one at a time, under that load, each followed by the
time until `/healthz` is 200 again and a fresh write is visible in a read; optionally
poison and forged messages straight onto the topic. Then it asserts that every accepted
write is in the store, the read models and analytics exactly once, that `crm check` and
`crm audit verify` pass, that the parking lot holds the injected messages and nothing
else, and that `/healthz` never said 200 while reads failed.

Modules: `client` (GraphQL with retries), `load` (the writers and their ledger),
`faults` (kills and recovery times), `sampler` (health vs reads), `inject`, `verify`,
`run` (the whole run and its result file).

Tooling, kept apart from the runtime: may import everything; `ops` reaches it only
through the thin `crm chaos` verb.
"""

from __future__ import annotations

from dataclasses import dataclass

TARGETS = ("relay", "worker-projections", "worker-analytics", "kafka", "postgres")
RECOVERY_TARGET_S = 5.0


@dataclass(frozen=True)
class ChaosConfig:
    """Sizes of one run: `quick` is the CI form (about a minute), the default is full."""

    quick: bool
    writers: int
    customers: int
    rounds: int  # how many times every target is killed
    settle_s: float  # load between two kills
    inject: bool = True

    @classmethod
    def make(cls, *, quick: bool, inject: bool = True) -> ChaosConfig:
        if quick:
            return cls(True, writers=2, customers=20, rounds=1, settle_s=1.5, inject=inject)
        return cls(False, writers=3, customers=100, rounds=3, settle_s=5.0, inject=inject)


class ChaosFailed(AssertionError):
    """One or more of the suite's assertions did not hold (each named in the message)."""
