"""Read models: PostgreSQL tables built from the event stream, and the queries over them.

Write side (called by the stream processors, inside their transaction):
    `projections.schema`  create_all / drop_all / reset_projection
    `projections.apply`   apply_envelopes(conn, envelopes) -> int, at most once per event;
                          then `projections.materialize` stores lifecycle, tier and
                          summaries of every touched customer (and its survivors)

Read side (called by the GraphQL gateway):
    `projections.queries` get_customers, list_customers, complaints_for, funnel,
                          lifecycle_distribution, tier_distribution, timeline,
                          applied_position
    `projections.positions` includes_position: read-your-writes (`atLeast`) by global
                          position, over the merge tree, the checkpoints and the store
    `projections.derived` lifecycle stage and tier rules and Thresholds: the one
                          definition (Python; SQL generated from it for as-of questions)
    `projections.derivation` the stored answer and its valid_until
    `projections.views`   the frozen values those queries return

Each projection (`projections.handlers`) owns its tables and its checkpoint column in
rm_applied; the merge tree of an asked id is resolved at read time, everything else
a read returns is a stored column.

May import `events` only (import-linter checks it; `make lint`): the read side never
reaches into the write side's code.
"""
