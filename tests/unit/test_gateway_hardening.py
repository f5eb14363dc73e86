"""Depth and cost limits and error codes, on the schema alone (no server needed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.deps import Limits
from gateway.schema import build_schema


def codes(query: str, limits: Limits | None = None, variables: Any = None) -> list[str]:
    schema = build_schema(limits)
    result = asyncio.run(schema.execute(query, variable_values=variables))
    return [e.extensions.get("code") for e in result.errors or []]


def test_the_depth_limit() -> None:
    query = "{ customers { edges { node { touches { byChannel { channel } } } } } }"
    assert codes(query, Limits(max_depth=3)) == ["QUERY_TOO_COMPLEX"]


def test_the_cost_counts_page_sizes_and_aliases() -> None:
    page = "customers(first: 100) { edges { node { complaints { id } } } }"
    limits = Limits(max_cost=2000)
    assert "QUERY_TOO_COMPLEX" in codes("{ a: " + page + " b: " + page + " }", limits)
    fragment = (
        "fragment F on Query { " + page + " } { ...F x: customers(first: 100) { totalCount } }"
    )
    assert codes(fragment, Limits(max_cost=150)) == ["QUERY_TOO_COMPLEX"]


def test_request_errors_get_codes() -> None:
    assert codes("{ nope }") == ["GRAPHQL_VALIDATION_FAILED"]
    assert codes('{ customerAsOf(id: "x", at: "not a date") { id } }') == ["VALIDATION"]
    assert codes(
        'query($at: DateTime!) { customerAsOf(id: "x", at: $at) { id } }', variables={"at": 1}
    ) == ["VALIDATION"]


def test_literals_are_checked_for_every_query_text_and_remembered_per_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway import hardening

    monkeypatch.setattr(hardening, "_literals_by_query", {})
    monkeypatch.setattr(hardening, "LITERALS_CACHED", 8)
    schema = build_schema()

    def refused(query: str) -> bool:
        result = asyncio.run(schema.execute(query))
        return any(e.extensions.get("code") == "VALIDATION" for e in result.errors or [])

    nul = '{ customers(filter: {region: "a\\u0000"}) { totalCount } }'
    long = '{ customers(filter: {region: "' + "x" * 10_001 + '"}) { totalCount } }'
    fine = '{ customers(filter: {region: "a"}) { totalCount } }'
    for _ in range(2):  # the second time from what the first found
        assert refused(nul) and refused(long) and not refused(fine)
    assert hardening._literals_by_query[long][0].value == "x" * 10_001
    for n in range(hardening.LITERALS_CACHED + 5):  # bounded: the oldest texts go
        refused(f'{{ customers(filter: {{region: "r{n}"}}) {{ totalCount }} }}')
    assert len(hardening._literals_by_query) == 8
    assert nul not in hardening._literals_by_query
    assert refused(nul) and refused(long)
