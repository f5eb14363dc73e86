"""Helpers and harnesses for the integration tests: real servers, real processes.

`servers` (the session's PostgreSQL and broker), `platform` (a real `crm up`),
`gateway` (the GraphQL app in process over a real database), `streaming` (`crm`
workers as processes), `parking` (raw messages and the parking lot), `metrics`
(reading `/metrics`), `waiting` (a deadline for what another process does).
Unit tests never import from here.
"""
