"""Events in motion: the outbox relay (event store ──► Kafka, signed envelopes), the
faust-streaming processors with their intake and parking lot, sinks, rebuilds, and the
deployment's process table (`processes`: every process's row, for `/healthz`).

May import `events`, `projections`, `commands` (the store application and its key ring)
and `schemas` (envelope validation). The two process bodies, `relay_main.run` and
`worker_main.run`, ask the composition root (`bootstrap`) for their parts; nothing else
here does. Never `compliance`, `gateway`, `ops` or tooling (import-linter checks it).
"""
