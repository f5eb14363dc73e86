"""Compliance work on the platform's data: chain checkpoints, subject exports, erasure
that reaches every copy, and the searches that prove it (`crm audit …`).

The event-store side (hash chain, replay, as-of, access log) lives in `commands`; this
package adds what spans the whole platform: read models, analytics files, the topic.
"""
