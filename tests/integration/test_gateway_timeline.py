"""The customer timeline over HTTP: newest first, keyset pages both ways, the `types`
filter, masking by role, and the profile's orders and touch history pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness, first_error
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import (
    NOW,
    TIMELINE,
    at,
    done,
    new_customer,
    timeline,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, clock=lambda: NOW, limits=Limits(read_wait_seconds=1.0))
    yield harness
    await harness.aclose()
    servers.drop_database(url)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def busy(gw: GatewayHarness) -> dict[str, Any]:
    """A customer with 1 registration + 6 touches + 2 purchases (9 entries)."""
    cid = await new_customer(gw, "Tim Line", email="tim@example.com", phone="13800138000")
    for hour in range(1, 7):
        await done(
            gw,
            "recordContactTouch",
            {
                "customerId": cid,
                "channel": "PHONE" if hour % 2 else "EMAIL",
                "summary": f"call {hour}",
                "occurredAt": at(hour),
            },
        )
    for n, (currency, price) in enumerate((("CNY", "100.00"), ("USD", "10.00")), start=1):
        await done(
            gw,
            "recordPurchase",
            {
                "customerId": cid,
                "orderId": f"SO-{n}",
                "currency": currency,
                "lines": [{"sku": "DESK", "quantity": 2, "unitPrice": price}],
                "occurredAt": at(10 + n),
            },
        )
    whole = await timeline(gw, cid, first=100)
    return {"id": cid, "positions": [e["node"]["position"] for e in whole["edges"]]}


async def test_entries_come_newest_first_typed_per_kind(
    gw: GatewayHarness, busy: dict[str, Any]
) -> None:
    page = await timeline(gw, busy["id"], first=100)
    nodes = [e["node"] for e in page["edges"]]
    kinds = [n["kind"] for n in nodes]
    assert kinds == ["PURCHASE"] * 2 + ["TOUCH"] * 6 + ["REGISTERED"]
    positions = [n["position"] for n in nodes]
    assert positions == sorted(positions, reverse=True)
    usd = nodes[0]
    assert usd["__typename"] == "PurchaseEntry"
    assert (usd["orderId"], usd["currency"], usd["total"]) == ("SO-2", "USD", "20.00")
    assert usd["lines"] == [{"sku": "DESK", "quantity": 2, "unitPrice": "10.00", "amount": "20.00"}]
    assert usd["totalCny"] != usd["total"] and usd["at"] == at(12)
    assert nodes[2]["summaryText"] == "call 6" and nodes[2]["channel"] == "EMAIL"
    assert nodes[-1]["name"] == "Tim Line" and nodes[-1]["phone"] == "+8613800138000"
    assert all(n["actor"] == "admin-user" for n in nodes)
    info = page["pageInfo"]
    assert info == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": page["edges"][0]["cursor"],
        "endCursor": page["edges"][-1]["cursor"],
    }


async def test_pages_forwards_to_older_entries(gw: GatewayHarness, busy: dict[str, Any]) -> None:
    seen: list[int] = []
    after = None
    flags = []
    while True:
        page = await timeline(gw, busy["id"], first=4, after=after)
        seen += [e["node"]["position"] for e in page["edges"]]
        flags.append((page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["hasNextPage"]))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == busy["positions"]
    assert flags == [(False, True), (True, True), (True, False)]


async def test_pages_backwards_to_newer_entries(gw: GatewayHarness, busy: dict[str, Any]) -> None:
    seen: list[int] = []
    before = None
    flags = []
    while True:
        page = await timeline(gw, busy["id"], last=4, before=before)
        seen = [e["node"]["position"] for e in page["edges"]] + seen
        flags.append((page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["hasNextPage"]))
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert seen == busy["positions"], "each page is newest first, and pages join up"
    assert flags == [(True, False), (True, True), (False, True)]


async def test_types_keeps_only_those_kinds(gw: GatewayHarness, busy: dict[str, Any]) -> None:
    page = await timeline(gw, busy["id"], first=3, types=["PURCHASE", "REGISTERED"])
    assert [e["node"]["kind"] for e in page["edges"]] == ["PURCHASE", "PURCHASE", "REGISTERED"]
    assert page["pageInfo"]["hasNextPage"] is False
    touches = await timeline(gw, busy["id"], first=2, types=["TOUCH"])
    assert [e["node"]["summaryText"] for e in touches["edges"]] == ["call 6", "call 5"]
    rest = await timeline(
        gw, busy["id"], first=10, types=["TOUCH"], after=touches["pageInfo"]["endCursor"]
    )
    assert [e["node"]["summaryText"] for e in rest["edges"]] == [f"call {n}" for n in (4, 3, 2, 1)]
    assert rest["pageInfo"]["hasPreviousPage"] is True
    none = await timeline(gw, busy["id"], types=["COMPLAINT_FILED"])
    assert none["edges"] == [] and none["pageInfo"]["hasNextPage"] is False


async def test_masking_follows_the_role(gw: GatewayHarness, busy: dict[str, Any]) -> None:
    support = await timeline(gw, busy["id"], role="support", first=100)
    registered = support["edges"][-1]["node"]
    assert registered["name"] == "Tim Line"  # support sees contact details partially masked
    assert registered["email"] == "t***@example.com"
    assert registered["phone"] == "138****8000"
    sales = await timeline(gw, busy["id"], role="sales", first=100)
    assert sales["edges"][-1]["node"]["email"] == "tim@example.com"
    refused = await gw.gql(TIMELINE, {"id": busy["id"]}, role="analyst")
    assert first_error(refused)["extensions"]["code"] == "FORBIDDEN"
    sales = await timeline(gw, busy["id"], role="sales", types=["TOUCH"], first=1)
    assert sales["edges"][0]["node"]["summaryText"] == "call 6"


async def test_bad_arguments_are_coded(gw: GatewayHarness, busy: dict[str, Any]) -> None:
    bad = await gw.gql(TIMELINE, {"id": busy["id"], "after": "nonsense"})
    assert first_error(bad)["extensions"] == {"code": "VALIDATION", "field": "after"}
    both = await gw.gql(TIMELINE, {"id": busy["id"], "after": "x", "before": "y"})
    assert first_error(both)["extensions"]["code"] == "VALIDATION"
    huge = await gw.gql(TIMELINE, {"id": busy["id"], "first": 10_000})
    assert first_error(huge)["extensions"]["field"] == "first"


ORDERS = """query($id: ID!, $after: String) { customer(id: $id) {
  orders(first: 1, after: $after) { edges { cursor node { orderId currency total totalCny at
    lines { sku quantity unitPrice amount } } } pageInfo { hasNextPage endCursor } }
  touchHistory(first: 4) { edges { node { channel summary at } } pageInfo { hasNextPage } } } }"""


async def test_the_profile_lists_orders_and_touches(
    gw: GatewayHarness, busy: dict[str, Any]
) -> None:
    first = (await gw.data(ORDERS, {"id": busy["id"]}, role="support"))["customer"]
    newest = first["orders"]["edges"][0]["node"]
    assert (newest["orderId"], newest["currency"], newest["total"]) == ("SO-2", "USD", "20.00")
    assert first["orders"]["pageInfo"]["hasNextPage"] is True
    after = first["orders"]["pageInfo"]["endCursor"]
    second = (await gw.data(ORDERS, {"id": busy["id"], "after": after}))["customer"]["orders"]
    older = second["edges"][0]["node"]
    assert (older["orderId"], older["total"], older["totalCny"]) == ("SO-1", "200.00", "200.00")
    assert second["pageInfo"]["hasNextPage"] is False
    touches = first["touchHistory"]
    assert [t["node"]["summary"] for t in touches["edges"]] == [f"call {n}" for n in (6, 5, 4, 3)]
    assert touches["pageInfo"]["hasNextPage"] is True
    masked = (await gw.data(ORDERS, {"id": busy["id"]}, role="analyst"))["customer"]
    assert {t["node"]["summary"] for t in masked["touchHistory"]["edges"]} == {None}
