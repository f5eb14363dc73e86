"""The published contracts: JSON Schema of every event version and of the Kafka envelope
(`events/*.json`, `envelope.json`), and the GraphQL SDL (`schema.graphql`), generated from
the code (`crm schemas export`, `python -m schemas.export_sdl`) and checked by tests.

Data plus the small generators: they import `events` (and the gateway's schema for the
SDL), never the runtime (`ops`, `bootstrap`) or tooling.
"""
