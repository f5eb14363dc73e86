"""Request and correlation ids come from the interpreter's generator: `uuid4()` reads
`os.urandom`, a system call that hands the GIL to the group committer's thread, and the
event loop then waits for its turn back."""

from __future__ import annotations

import os

import pytest

from gateway.observe import request_uuid, trace_correlation_id


def test_request_ids_are_distinct_version_4_uuids() -> None:
    ids = {request_uuid() for _ in range(20_000)}
    assert len(ids) == 20_000
    assert {(u.version, u.variant) for u in ids} == {(4, "specified in RFC 4122")}


def test_request_and_correlation_ids_make_no_system_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_urandom(n: int) -> bytes:
        raise AssertionError("os.urandom called on the request path")

    monkeypatch.setattr(os, "urandom", no_urandom)
    assert request_uuid() != request_uuid()
    assert trace_correlation_id().version == 4  # no span here: a new id
