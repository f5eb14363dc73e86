"""Over HTTP on a real database: the audit trail's before/after history and partial masks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import pytest_asyncio
from anyio import to_thread

from commands.messages import ChangeContactDetails, CommandContext
from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

T0 = datetime(2025, 3, 1, 9, tzinfo=UTC)
NOW = T0 + timedelta(days=30)

TRAIL = (
    "query($id: ID!, $first: Int, $after: String) { auditTrail(customerId: $id, first: $first, "
    "after: $after) { edges { node { position type actor data changes { field before after } } "
    "} pageInfo { endCursor } } }"
)


def at(days: float) -> str:
    return (T0 + timedelta(days=days)).isoformat()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, clock=lambda: NOW, limits=Limits(read_wait_seconds=1.0))
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def run(gw: GatewayHarness, name: str, input: dict[str, Any], role: str = "admin") -> Any:
    kind = f"{name[0].upper()}{name[1:]}Input"
    query = f"mutation($input: {kind}!) {{ {name}(input: $input) {{ position }} }}"
    return await gw.data(query, {"input": input}, role=role, subject=f"{role}-1")


async def register(gw: GatewayHarness, **fields: Any) -> str:
    query = (
        "mutation($input: RegisterCustomerInput!) { registerCustomer(input: $input) "
        "{ customer { id } } }"
    )
    given = {"occurredAt": at(0), "owner": "sales-1", **fields}
    data = await gw.data(query, {"input": given}, subject="sales-1")
    return str(data["registerCustomer"]["customer"]["id"])


def changes_of(node: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        c["field"]: (
            None if c["before"] is None else json.loads(c["before"]),
            None if c["after"] is None else json.loads(c["after"]),
        )
        for c in node["changes"]
    }


async def trail(gw: GatewayHarness, cid: str, **variables: Any) -> list[dict[str, Any]]:
    data = await gw.data(TRAIL, {"id": cid, **variables}, role="compliance")
    return [e["node"] for e in data["auditTrail"]["edges"]]


async def test_every_event_lists_its_fields_before_and_after(gw: GatewayHarness) -> None:
    cid = await register(gw, name="Zhang San", email="zs@example.com", phone="13800138000")
    await run(
        gw,
        "changeContactDetails",
        {"customerId": cid, "email": "zhang@example.com", "occurredAt": at(1)},
        role="sales",
    )
    await run(gw, "tagCustomer", {"customerId": cid, "add": ["vip"], "occurredAt": at(2)})
    await run(gw, "moveStage", {"customerId": cid, "to": "QUALIFIED", "occurredAt": at(3)})
    await run(
        gw,
        "recordPurchase",
        {
            "customerId": cid,
            "orderId": "o-1",
            "occurredAt": at(4),
            "lines": [{"sku": "a", "quantity": 2, "unitPrice": "50"}],
        },
    )
    nodes = await trail(gw, cid)
    assert [n["type"].split(".")[2] for n in nodes] == [
        "registered",
        "contact_details_changed",
        "tagged",
        "stage_moved",
        "purchase_recorded",
    ]
    registered, contact, tagged, moved, bought = (changes_of(n) for n in nodes)
    assert registered["name"] == (None, "Zhang San")
    assert registered["email"] == (None, "zs@example.com")
    assert registered["phone"] == (None, "+8613800138000")
    assert registered["stage"] == (None, "LEAD")
    assert contact == {"email": ("zs@example.com", "zhang@example.com")}
    assert nodes[1]["actor"] == "sales-1"
    assert tagged == {"tags": ([], ["vip"])}
    assert moved == {"stage": ("LEAD", "QUALIFIED")}
    assert bought["purchase_count"] == (0, 1)
    assert bought["purchase_total_cny"] == ("0.00", "100.00")
    assert bought["order_ids"] == ([], ["o-1"])

    # A page that starts later still has its "before" values: they are folded from the
    # events on the pages before it.
    second = await trail(gw, cid, first=2, after=None)
    data = await gw.data(TRAIL, {"id": cid, "first": 1}, role="compliance")
    cursor = data["auditTrail"]["pageInfo"]["endCursor"]
    later = await trail(gw, cid, first=2, after=cursor)
    assert [changes_of(n) for n in later] == [contact, tagged]
    assert [n["position"] for n in second] == [n["position"] for n in nodes[:2]]


async def test_forgetting_leaves_no_personal_value_before_or_after(gw: GatewayHarness) -> None:
    cid = await register(gw, name="Li Si", email="lisi@example.com", phone="13900139000")
    await run(
        gw,
        "changeContactDetails",
        {"customerId": cid, "phone": "13700137000", "name": "Li Si Two", "occurredAt": at(1)},
    )
    before = await trail(gw, cid)
    assert changes_of(before[1])["phone"] == ("+8613900139000", "+8613700137000")
    await run(gw, "forgetCustomer", {"customerId": cid, "reason": "asked"})
    after = await trail(gw, cid)
    text = json.dumps([n["changes"] for n in after], ensure_ascii=False)
    for needle in ("Li Si", "lisi@", "13900139000", "13700137000"):
        assert needle not in text
    contact = changes_of(after[1])
    # The fields are still named (the fact that they changed is not personal), valueless.
    assert contact["phone"] == (None, None) and contact["name"] == (None, None)
    assert changes_of(after[2])["forgotten"] == (False, True)
    assert after[2]["actor"] == "admin-1"


async def test_support_sees_partial_phone_and_email_and_analyst_none(gw: GatewayHarness) -> None:
    cid = await register(gw, name="Wang Wu", email="zwang@example.com", phone="13800138000")
    query = "query($id: ID!) { customer(id: $id) { name email phone } }"
    full = (await gw.data(query, {"id": cid}, role="sales"))["customer"]
    assert full == {"name": "Wang Wu", "email": "zwang@example.com", "phone": "+8613800138000"}
    support = (await gw.data(query, {"id": cid}, role="support"))["customer"]
    assert support == {"name": "Wang Wu", "email": "z***@example.com", "phone": "138****8000"}
    analyst = (await gw.data(query, {"id": cid}, role="analyst"))["customer"]
    assert analyst == {"name": None, "email": None, "phone": None}


async def test_a_late_page_starts_from_a_snapshot_and_agrees_with_the_whole_fold(
    gw: GatewayHarness,
) -> None:
    cid = await register(gw, name="Long History", email="long@example.com")
    customer = UUID(cid)

    def write() -> None:
        context = CommandContext(actor="sales-2")
        for i in range(120):  # past the snapshot interval: a later page loads a snapshot
            when = T0 + timedelta(hours=i + 1)
            command = ChangeContactDetails(
                customer_id=customer,
                occurred_at=when,
                **({"company": f"c{i}"} if i % 2 else {"email": f"l{i}@example.com"}),
            )
            gw.deps.service.handle(command, context)

    await to_thread.run_sync(write)
    whole = [changes_of(n) for n in await trail(gw, cid, first=500)]
    assert len(whole) == 121
    data = await gw.data(TRAIL, {"id": cid, "first": 100}, role="compliance")
    cursor = data["auditTrail"]["pageInfo"]["endCursor"]
    late = [changes_of(n) for n in await trail(gw, cid, first=50, after=cursor)]
    assert late == whole[100:]
    assert late[-1] == {"company": ("c117", "c119")}
    assert late[-2] == {"email": ("l116@example.com", "l118@example.com")}
