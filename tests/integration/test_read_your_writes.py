"""`atLeast` by global position: a position of another customer's event is settled by
the event store at once; an event of the customer (or of its merge tree) at or below the
position that the read models have not applied still makes the query wait.

The gateway here does not bring the read models up to date after a write: the test
applies the stored events itself (all of them, or one customer's only), standing in for
a stopped or lagging worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from anyio import to_thread

from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness, first_error
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

READ = "query($id: ID!, $p: Int) { customer(id: $id, atLeast: $p) { id tags mergedIds } }"


@pytest_asyncio.fixture(loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(
        url,
        sync_writes=False,
        limits=Limits(read_wait_seconds=1.0, payload_wait_seconds=0.05),
    )
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def write(gw: GatewayHarness, name: str, input: dict[str, Any], select: str) -> Any:
    input_type = f"{name[0].upper()}{name[1:]}Input"
    query = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {select} }} }}"
    role = "compliance" if name == "mergeCustomers" else "admin"
    return (await gw.data(query, {"input": input}, role=role))[name]


async def register(gw: GatewayHarness, name: str) -> tuple[str, int]:
    payload = await write(gw, "registerCustomer", {"name": name}, "position customer { id }")
    return payload["customer"]["id"], payload["position"]


async def tag(gw: GatewayHarness, customer_id: str, label: str) -> int:
    payload = await write(
        gw, "tagCustomer", {"customerId": customer_id, "add": [label]}, "position"
    )
    position: int = payload["position"]
    return position


async def sync_all(gw: GatewayHarness) -> None:
    await to_thread.run_sync(gw.sync)


async def sync_only(gw: GatewayHarness, subjects: Iterable[str]) -> None:
    """Apply the stored events of these customers only (their partitions are ahead)."""
    wanted = set(subjects)

    def run() -> None:
        batch = gw.sync.source.read_after(0, 100_000)
        gw.sync.sink([e for e in batch.envelopes if e["subject"] in wanted])

    await to_thread.run_sync(run)


async def read(gw: GatewayHarness, customer_id: str, position: int) -> dict[str, Any]:
    return await gw.gql(READ, {"id": customer_id, "p": position})


async def test_another_customers_later_position_answers_at_once(gw: GatewayHarness) -> None:
    a, _ = await register(gw, "Ann A")
    await tag(gw, a, "first")
    await sync_all(gw)
    _, b_position = await register(gw, "Bo B")  # never applied: its worker is stopped
    answer = await read(gw, a, b_position)
    assert "errors" not in answer, answer
    assert answer["data"]["customer"] == {"id": a, "tags": ["first"], "mergedIds": []}


async def test_an_unapplied_event_of_the_customer_still_waits(gw: GatewayHarness) -> None:
    a, _ = await register(gw, "Cy C")
    await sync_all(gw)
    await tag(gw, a, "late")
    _, b_position = await register(gw, "Di D")
    error = first_error(await read(gw, a, b_position))
    assert error["extensions"]["code"] == "TIMEOUT"
    assert error["extensions"]["reached"] < b_position
    await sync_all(gw)
    assert (await gw.data(READ, {"id": a, "p": b_position}))["customer"]["tags"] == ["late"]


async def test_an_unapplied_complaint_of_the_customer_still_waits(gw: GatewayHarness) -> None:
    a, _ = await register(gw, "Ed E")
    await sync_all(gw)
    filed = await write(
        gw,
        "fileComplaint",
        {"customerId": a, "category": "billing", "severity": "LOW", "description": "x"},
        "position",
    )
    _, later = await register(gw, "Fa F")
    # The complaint's stream is not the customer's, but its events are (stream subjects).
    assert first_error(await read(gw, a, later))["extensions"]["code"] == "TIMEOUT"
    await sync_all(gw)
    assert "errors" not in await read(gw, a, max(filed["position"], later))


async def test_a_merged_duplicate_answers_at_once_for_a_later_position(gw: GatewayHarness) -> None:
    survivor, _ = await register(gw, "Gu Survivor")
    duplicate, _ = await register(gw, "Gu Duplicate")
    await write(
        gw, "mergeCustomers", {"survivorId": survivor, "duplicateId": duplicate}, "position"
    )
    await sync_all(gw)
    _, other = await register(gw, "Ha H")
    answer = await read(gw, duplicate, other)
    assert "errors" not in answer, answer
    assert answer["data"]["customer"] == {"id": survivor, "tags": [], "mergedIds": [duplicate]}


async def test_the_merge_tree_waits_for_the_lagging_side(gw: GatewayHarness) -> None:
    survivor, _ = await register(gw, "Io Survivor")
    duplicate, _ = await register(gw, "Io Duplicate")
    await sync_all(gw)
    tagged = await tag(gw, duplicate, "from-duplicate")
    merged = await write(
        gw, "mergeCustomers", {"survivorId": survivor, "duplicateId": duplicate}, "position"
    )
    _, later = await register(gw, "Ju J")
    await sync_only(gw, [survivor])  # the survivor's partition knows the merge
    assert tagged < merged["position"] < later
    waited = first_error(await read(gw, survivor, later))
    assert waited["extensions"]["code"] == "TIMEOUT"
    await tag(gw, survivor, "from-survivor")
    await sync_only(gw, [duplicate])
    answer = await read(gw, survivor, later)
    assert "errors" not in answer, answer
    assert answer["data"]["customer"]["mergedIds"] == [duplicate]
    assert answer["data"]["customer"]["tags"] == [], "the survivor's tag after it is not needed"


async def test_a_lagging_purchase_payload_counts_the_purchase_in_tier_and_lifecycle(
    gw: GatewayHarness,
) -> None:
    """The read models never see these writes (no sync): every payload is built from the
    event store, as of after the write, so the purchase just recorded counts."""
    customer, _ = await register(gw, "Pat Lag")
    select = "customer { tier lifecycleStage purchases { count total } }"
    line = {"sku": "x", "quantity": 1, "unitPrice": "25000"}
    first = await write(
        gw, "recordPurchase", {"customerId": customer, "orderId": "lag-1", "lines": [line]}, select
    )
    assert first["customer"] == {
        "tier": "GOLD",  # RULES.md: a total of 20,000 CNY or more
        "lifecycleStage": "NEW_CUSTOMER",  # one purchase
        "purchases": {"count": 1, "total": "25000.00"},
    }
    second = await write(
        gw, "recordPurchase", {"customerId": customer, "orderId": "lag-2", "lines": [line]}, select
    )
    assert second["customer"]["lifecycleStage"] == "REPEAT_CUSTOMER"
    assert second["customer"]["purchases"] == {"count": 2, "total": "50000.00"}


async def test_lagging_task_and_complaint_payloads_read_as_their_lists_will(
    gw: GatewayHarness,
) -> None:
    """Built from the event store while the read models lag: the task names who scheduled
    it (as myTasks will), and a complaint filed with a business time ahead has waited 0
    hours, not a negative number."""
    customer, _ = await register(gw, "Lag Tasks")
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    task = await write(
        gw,
        "scheduleTask",
        {
            "customerId": customer,
            "kind": "CALL_BACK",
            "title": "t",
            "assignee": "amy",
            "dueAt": due,
        },
        "task { scheduledBy }",
    )
    assert task["task"]["scheduledBy"] == "admin-user"
    ahead = (datetime.now(UTC) + timedelta(hours=20)).isoformat()
    filed = await write(
        gw,
        "fileComplaint",
        {
            "customerId": customer,
            "category": "billing",
            "severity": "LOW",
            "description": "x",
            "occurredAt": ahead,
        },
        "complaint { slaAgeHours }",
    )
    assert filed["complaint"]["slaAgeHours"] == 0.0
