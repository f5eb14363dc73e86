"""Fuzzing the served schema with hypothesis-graphql: valid and invalid queries and
mutations, with arbitrary arguments, never give a 500 or an unexpected (masked) error."""

from __future__ import annotations

import asyncio
import base64
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, mutations, nodes, queries

from gateway.deps import Limits
from gateway.schema import build_schema
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet

pytestmark = pytest.mark.integration

SDL = build_schema().as_str()
ROLES = ("admin", "sales", "support", "analyst", "compliance")

datetimes = st.one_of(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),
    st.text(max_size=30),
)
decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.text(alphabet=string.printable, max_size=20),
)
# A CSV file's base64: valid files, broken base64 and bytes that are no CSV.
csv_files = st.one_of(
    st.binary(max_size=200).map(lambda raw: base64.b64encode(raw).decode()),
    st.text(alphabet=string.ascii_letters + "=+/", max_size=40),
)
SCALARS = {
    "DateTime": datetimes.map(nodes.String),
    "Decimal": decimals.map(nodes.String),
    "CsvFile": csv_files.map(nodes.String),
}
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)


class Client:
    """The harness driven from synchronous hypothesis tests, on a loop of its own."""

    def __init__(self, gw: GatewayHarness) -> None:
        self.gw = gw
        self.loop = asyncio.new_event_loop()

    def post(self, query: str, role: str) -> Any:
        return self.loop.run_until_complete(self.gw.post(query, role=role))

    def close(self) -> None:
        self.loop.run_until_complete(self.gw.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def client(servers: ServerSet) -> Iterator[Client]:
    url = servers.new_database()
    gw = GatewayHarness.start(url, limits=Limits(read_wait_seconds=0.1, payload_wait_seconds=0.05))
    fuzz = Client(gw)
    yield fuzz
    fuzz.close()
    servers.drop_database(url)


def check(client: Client, query: Any, role: str) -> None:
    response = client.post(str(query), role)
    assert response.status_code in (200, 400), (response.status_code, response.text, query)
    body = response.json()
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
    assert "INTERNAL" not in codes, (body, query)
    assert all(codes), (body, query)


@FUZZ
@given(query=queries(SDL, custom_scalars=SCALARS), role=st.sampled_from(ROLES))
def test_queries(client: Client, query: Any, role: str) -> None:
    check(client, query, role)


@settings(FUZZ, max_examples=50)
@given(query=mutations(SDL, custom_scalars=SCALARS), role=st.sampled_from(ROLES))
def test_mutations(client: Client, query: Any, role: str) -> None:
    check(client, query, role)


@settings(FUZZ, max_examples=60)
@given(
    query=from_schema(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE),
    role=st.sampled_from(ROLES),
)
def test_invalid_documents(client: Client, query: Any, role: str) -> None:
    check(client, query, role)


def test_a_fuzz_round_leaves_a_working_gateway(client: Client) -> None:
    response = client.post("{ customers { totalCount } }", "admin")
    assert response.status_code == 200 and "errors" not in response.json()
