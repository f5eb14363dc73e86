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


def doubling(levels: int) -> str:
    """Each fragment spreads the next twice: about 2^levels fields in 70 bytes a level."""
    chain = " ".join(
        f"fragment F{n} on Viewer {{ role ...F{n + 1} ...F{n + 1} }}" for n in range(levels)
    )
    return f"query {{ viewer {{ ...F0 }} }} {chain} fragment F{levels} on Viewer {{ role }}"


def test_fragments_multiplying_a_query_are_refused_before_validation() -> None:
    # 13 levels: 16,383 fields from 1 KB. Validated, such a document held the gateway's
    # loop for seconds (18 levels: 45 s), so it is refused by its expanded size.
    schema = build_schema()
    result = asyncio.run(schema.execute(doubling(13)))
    (error,) = result.errors or []
    assert error.extensions == {"code": "QUERY_TOO_COMPLEX", "maxFields": 5000}
    assert "expands to 16,384 fields" in error.message
    assert codes(doubling(8)) != ["QUERY_TOO_COMPLEX"]  # 512 fields: validated as usual


def test_the_expanded_size_counts_each_spread_and_survives_a_cycle() -> None:
    from graphql import parse

    from gateway.expansion import expanded_fields

    query = "query { viewer { ...A ...A role } } fragment A on Viewer { subject ...B } "
    assert expanded_fields(parse(query + "fragment B on Viewer { role expiresAt }")) == 8
    cyclic = "query { viewer { ...A } } fragment A on Viewer { role ...B } "
    assert expanded_fields(parse(cyclic + "fragment B on Viewer { ...A }")) == 2
    assert codes(cyclic + "fragment B on Viewer { ...A }") == ["GRAPHQL_VALIDATION_FAILED"]


def test_a_document_of_several_operations_needs_the_name_of_one() -> None:
    document = "query A { __typename } query B { viewer { role } }"
    schema = build_schema()
    result = asyncio.run(schema.execute(document))
    (error,) = result.errors or []
    assert result.data is None
    assert error.extensions == {"code": "VALIDATION", "field": "operationName"}
    named = asyncio.run(schema.execute(document, operation_name="A"))
    assert (named.data, named.errors) == ({"__typename": "Query"}, None)
    assert codes("query A { __typename }") == []
