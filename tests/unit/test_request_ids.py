"""Request and correlation ids come from `commands.crypto.random_uuid`: `uuid4()` reads
`os.urandom` for each id, a system call that hands the GIL to the group committer's thread,
and the event loop then waits for its turn back."""

from __future__ import annotations

import os

import pytest

from gateway.observe import trace_correlation_id
from tests.support.spies import calls_to


def test_correlation_ids_are_distinct_version_4_uuids() -> None:
    ids = {trace_correlation_id() for _ in range(20_000)}  # no span here: new ids
    assert len(ids) == 20_000
    assert {(u.version, u.variant) for u in ids} == {(4, "specified in RFC 4122")}


def test_a_thousand_ids_cost_a_handful_of_system_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = calls_to(monkeypatch, os, "urandom")
    ids = {trace_correlation_id() for _ in range(1_000)}
    assert len(ids) == 1_000
    assert len(calls) <= 5  # one a 4 KiB block (256 ids); uuid4() made 1,000
