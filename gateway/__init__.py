"""The GraphQL gateway: strawberry schema, resolvers, DataLoaders, auth and roles, the
starlette app with `/graphql`, `/healthz` and `/metrics`.

It receives its parts (`deps.GatewayDeps`: the command sender, the read pool, the store
application, the access log) from the composition root, so it never builds them. May
import `commands`, `compliance`, `projections`, `events`, `aggregates` (domain errors,
input bounds, the state types it renders) and `streams` (envelope decoding for
subscriptions); never `ops`, `bootstrap` or tooling (import-linter checks it).
"""
