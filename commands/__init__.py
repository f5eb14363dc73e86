"""The write side's application service: commands in, events recorded.

Lives here: command types (`messages`: imperative, frozen dataclasses), their handlers
(`handlers.HANDLERS`, one row each), the service over the event store (`service`,
`group_commit`, `unit_of_work`), idempotency keys (`idempotency`), the event store
application and its PostgreSQL recorder (`application`, `recorder`), per-customer
encryption of personal fields (`crypto`, `keys`, `mapper`), and what the write
transaction must append: the hash chain's rows (`chain`) and the access log's table
(`access_table`).

May import `aggregates` and `events` only (import-linter checks it; `make lint`).
"""
