"""The customers connection through the gateway: Relay paging both ways in every order,
pageInfo at both ends, refused cursors, exact totals after merges and forgets (asked for
only when selected), and `node(id:)` with its survivor and role masking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

import gateway.schema.query as query_module
import projections.queries as read_queries
from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness, first_error
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

T0 = datetime(2024, 1, 1, 9, tzinfo=UTC)
NOW = T0 + timedelta(days=45)
REGION = "conn-land"
PAGE = (
    "query($o: CustomerOrder, $f: CustomerFilter, $first: Int, $after: String, $last: Int,"
    " $before: String) { customers(filter: $f, orderBy: $o, first: $first, after: $after,"
    " last: $last, before: $before) { edges { cursor node { id } } pageInfo { hasNextPage"
    " hasPreviousPage startCursor endCursor } } }"
)
ORDERS: list[dict[str, str] | None] = [
    None,
    {"field": "CREATED_AT", "direction": "DESC"},
    {"field": "UPDATED_AT", "direction": "ASC"},
    {"field": "UPDATED_AT", "direction": "DESC"},
    {"field": "NAME", "direction": "ASC"},
    {"field": "NAME", "direction": "DESC"},
]


def at(days: float) -> str:
    return (T0 + timedelta(days=days)).isoformat()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, clock=lambda: NOW, limits=Limits(read_wait_seconds=1.0))
    ids = []
    for n, name in enumerate(["eve", "Bea", "al", "Dot", "cy", "Bea"]):
        data = await harness.data(
            "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) "
            "{ customer { id } } }",
            {"i": {"name": name, "region": REGION, "occurredAt": at(n % 4)}},
        )
        ids.append(data["registerCustomer"]["customer"]["id"])
    harness.ids = ids  # type: ignore[attr-defined]
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def page(gw: GatewayHarness, **variables: Any) -> dict[str, Any]:
    variables.setdefault("f", {"region": REGION})
    result: dict[str, Any] = (await gw.data(PAGE, variables))["customers"]
    return result


async def walk(gw: GatewayHarness, order: dict[str, str] | None, forward: bool) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        if forward:
            p = await page(gw, o=order, first=2, after=cursor)
        else:
            p = await page(gw, o=order, last=2, before=cursor)
        info, ids = p["pageInfo"], [e["node"]["id"] for e in p["edges"]]
        seen = seen + ids if forward else ids + seen
        this_side, other_side = (
            (info["hasNextPage"], info["hasPreviousPage"])
            if forward
            else (info["hasPreviousPage"], info["hasNextPage"])
        )
        assert other_side == (cursor is not None)
        assert (info["startCursor"], info["endCursor"]) == (
            p["edges"][0]["cursor"],
            p["edges"][-1]["cursor"],
        )
        if not this_side:
            return seen
        cursor = info["endCursor"] if forward else info["startCursor"]


async def test_every_order_pages_both_ways_over_the_same_list(gw: GatewayHarness) -> None:
    for order in ORDERS:
        whole = await page(gw, o=order, first=50)
        expected = [e["node"]["id"] for e in whole["edges"]]
        assert sorted(expected) == sorted(gw.ids)  # type: ignore[attr-defined]
        info = whole["pageInfo"]
        assert (info["hasPreviousPage"], info["hasNextPage"]) == (False, False)
        assert await walk(gw, order, forward=True) == expected, order
        assert await walk(gw, order, forward=False) == expected, order


async def test_refused_cursors_and_arguments(gw: GatewayHarness) -> None:
    cursor = (await page(gw, first=1))["pageInfo"]["endCursor"]
    for variables, field in (
        ({"first": 1, "after": cursor[:-2] + "xx"}, "after"),
        ({"first": 1, "after": "not-a-cursor"}, "after"),
        ({"o": {"field": "NAME"}, "first": 1, "after": cursor}, "after"),
        ({"last": 1, "before": "not-a-cursor"}, "before"),
        ({"last": 1, "after": cursor}, "after"),
        ({"last": -1}, "last"),
        ({"first": 5, "last": 5}, "first"),
        ({"first": 1, "before": cursor}, "first"),
    ):
        result = await gw.gql(PAGE, {"f": {"region": REGION}, **variables})
        assert first_error(result)["extensions"] == {"code": "VALIDATION", "field": field}
    named = await gw.gql(PAGE, {"o": {"field": "NAME"}, "first": 1, "after": cursor})
    assert "default order" in first_error(named)["message"], "says whose cursor it is"
    # `first` left at its default (20) by a request paging back is no clash.
    back = await gw.data(PAGE, {"f": {"region": REGION}, "last": 2})
    assert len(back["customers"]["edges"]) == 2
    written = PAGE.replace("first: $first", "first: 20")
    clash = await gw.gql(written, {"f": {"region": REGION}, "last": 2})
    assert first_error(clash)["extensions"] == {"code": "VALIDATION", "field": "first"}


async def test_a_blank_text_filter_is_not_given_for_the_list_and_its_total(
    gw: GatewayHarness,
) -> None:
    """Stored text is trimmed and blank means absent, so filters read values the same way:
    the page and `totalCount` (a counter lookup for one dimension) always agree."""
    query = (
        "query($f: CustomerFilter) { customers(filter: $f, first: 100) { totalCount "
        "edges { node { id } } } }"
    )
    everyone = (await gw.data(query, {"f": None}))["customers"]
    for blank in ({"region": ""}, {"owner": "  "}, {"tag": " "}, {"text": ""}):
        found = (await gw.data(query, {"f": blank}))["customers"]
        assert found == everyone, blank
    padded = (await gw.data(query, {"f": {"region": f"  {REGION} "}}))["customers"]
    assert padded["totalCount"] == len(padded["edges"]) == len(gw.ids)  # type: ignore[attr-defined]


async def total(gw: GatewayHarness, **filter: Any) -> int:
    query = "query($f: CustomerFilter) { customers(filter: $f, first: 0) { totalCount } }"
    n: int = (await gw.data(query, {"f": filter or None}))["customers"]["totalCount"]
    return n


async def listed(gw: GatewayHarness, **filter: Any) -> int:
    query = "query($f: CustomerFilter) { customers(filter: $f, first: 100) { edges { cursor } } }"
    return len((await gw.data(query, {"f": filter or None}))["customers"]["edges"])


async def test_totals_follow_merges_and_forgets_and_node_answers(gw: GatewayHarness) -> None:
    survivor, duplicate, forgotten = gw.ids[:3]  # type: ignore[attr-defined]
    filters: list[dict[str, Any]] = [
        {},
        {"region": REGION},
        {"tier": "BRONZE"},
        {"lifecycleStage": "PROSPECT"},
        {"stage": "LEAD"},
        {"region": REGION, "tier": "BRONZE"},
    ]
    for f in filters:
        assert await total(gw, **f) == await listed(gw, **f) == 6, f
    await gw.data(
        "mutation($i: MergeCustomersInput!) { mergeCustomers(input: $i) { position } }",
        {"i": {"survivorId": survivor, "duplicateId": duplicate}},
        role="compliance",
    )
    await gw.data(
        "mutation($i: ForgetCustomerInput!) { forgetCustomer(input: $i) { position } }",
        {"i": {"customerId": forgotten, "reason": "erasure request"}},
        role="compliance",
    )
    for f in filters:
        assert await total(gw, **f) == await listed(gw, **f) == 5, f

    node = "query($id: ID!) { node(id: $id) { __typename id ... on Customer { name } } }"
    for asked, answered in ((survivor, survivor), (duplicate, survivor)):
        found = (await gw.data(node, {"id": asked}))["node"]
        assert (found["__typename"], found["id"]) == ("Customer", answered)
        assert found["name"] == "eve"
        masked = (await gw.data(node, {"id": asked}, role="analyst"))["node"]
        assert (masked["id"], masked["name"]) == (answered, None)
    assert (await gw.data(node, {"id": forgotten}))["node"]["name"] is None
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (await gw.data(node, {"id": unknown}))["node"] is None
    bad = await gw.gql(node, {"id": "Customer:1"})
    assert first_error(bad)["extensions"] == {"code": "VALIDATION", "field": "id"}


async def test_the_total_is_counted_only_when_selected(
    gw: GatewayHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    counted = query_module.count_customers

    def spy(conn: Any, where: Any) -> int:
        calls.append(where)
        return counted(conn, where)

    # Selected directly, the count rides in the page's read (projections.queries);
    # through a fragment, `totalCount` counts on its own (gateway.schema.query).
    monkeypatch.setattr(query_module, "count_customers", spy)
    monkeypatch.setattr(read_queries, "count_customers", spy)
    await gw.data("{ customers(first: 1) { edges { cursor } } }")
    assert calls == []
    total = (await gw.data("{ customers(first: 1) { totalCount } }"))["customers"]["totalCount"]
    assert len(calls) == 1
    fragment = "fragment F on CustomerConnection { totalCount }"
    through = await gw.data("{ customers(first: 1) { ...F } } " + fragment)
    assert len(calls) == 2 and through["customers"]["totalCount"] == total
