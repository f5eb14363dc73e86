"""Every query and mutation of the contract through HTTP: payloads and positions, every
error code, pagination edges, filters and sorting, atLeast, customerAsOf, auditTrail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from anyio import to_thread

from commands.messages import CommandContext, TagCustomer
from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness, error_codes, first_error
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

T0 = datetime(2024, 1, 1, 9, tzinfo=UTC)
NOW = T0 + timedelta(days=45)


def at(days: float) -> str:
    return (T0 + timedelta(days=days)).isoformat()


PROFILE = """
  id version name email phone address company region source owner tags stage lifecycleStage
  lifecycleReason tierReason
  tier forgotten mergedIds createdAt updatedAt
  purchases { count total firstAt lastAt }
  touches { count lastAt byChannel { channel count } }
  complaints { id customerId category severity status satisfaction filedAt resolvedAt }
"""

REGISTER = (
    "mutation($input: RegisterCustomerInput!) { registerCustomer(input: $input) "
    "{ position version customer { " + PROFILE + " } } }"
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(
        url, clock=lambda: NOW, limits=Limits(read_wait_seconds=1.0, payload_wait_seconds=0.3)
    )
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def register(gw: GatewayHarness, name: str, days: float = 0, **fields: Any) -> dict[str, Any]:
    data = await gw.data(REGISTER, {"input": {"name": name, "occurredAt": at(days), **fields}})
    payload: dict[str, Any] = data["registerCustomer"]
    return payload


async def mutate(
    gw: GatewayHarness, name: str, input: dict[str, Any], select: str, **kw: Any
) -> Any:
    input_type = f"{name[0].upper()}{name[1:]}Input"
    query = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {select} }} }}"
    return await gw.gql(query, {"input": input}, **kw)


async def max_position(gw: GatewayHarness) -> int:
    return await to_thread.run_sync(lambda: gw.deps.app.recorder.max_notification_id() or 0)


# -- the mutations ------------------------------------------------------------------------


async def test_a_customer_is_registered_and_read_back(gw: GatewayHarness) -> None:
    payload = await register(
        gw,
        "  Ann Lee ",
        email="Ann@Example.com",
        phone="13800138000",
        company="Acme",
        region="east",
        source="web",
        owner="bob",
    )
    customer = payload["customer"]
    assert payload["position"] > 0 and payload["version"] == 1
    assert customer["name"] == "Ann Lee" and customer["email"] == "ann@example.com"
    assert customer["phone"] == "+8613800138000"
    assert (customer["stage"], customer["lifecycleStage"], customer["tier"]) == (
        "LEAD",
        "PROSPECT",
        "BRONZE",
    )
    assert customer["purchases"] == {"count": 0, "total": "0.00", "firstAt": None, "lastAt": None}
    assert customer["createdAt"] == at(0)
    read = await gw.data(
        "query($id: ID!, $p: Int) { customer(id: $id, atLeast: $p) { " + PROFILE + " } }",
        {"id": customer["id"], "p": payload["position"]},
    )
    assert read["customer"] == customer


async def test_every_customer_mutation_returns_its_payload_and_position(gw: GatewayHarness) -> None:
    cid = (await register(gw, "Bo Chen", 1, email="bo@example.com"))["customer"]["id"]
    select = "position version customer { " + PROFILE + " }"
    positions = []

    async def run(name: str, input: dict[str, Any]) -> dict[str, Any]:
        result = await mutate(gw, name, {"customerId": cid, **input}, select)
        assert "errors" not in result, result
        payload: dict[str, Any] = result["data"][name]
        positions.append(payload["position"])
        return payload["customer"]

    changed = await run("changeContactDetails", {"phone": "13900139000", "address": "1 Road"})
    assert changed["phone"] == "+8613900139000" and changed["address"] == "1 Road"
    assert changed["email"] == "bo@example.com", "fields left out stay"
    cleared = await run("changeContactDetails", {"address": None})
    assert cleared["address"] is None
    tagged = await run("tagCustomer", {"add": ["VIP", "b2b"], "remove": []})
    assert tagged["tags"] == ["b2b", "vip"]
    untagged = await run("tagCustomer", {"remove": ["b2b"]})
    assert untagged["tags"] == ["vip"]
    touched = await run(
        "recordContactTouch", {"channel": "WECHAT", "summary": "hi", "occurredAt": at(2)}
    )
    assert touched["touches"]["byChannel"] == [{"channel": "WECHAT", "count": 1}]
    bought = await run(
        "recordPurchase",
        {
            "orderId": "o-1",
            "lines": [
                {"sku": "a", "quantity": 3, "unitPrice": "1999.99"},
                {"sku": "b", "quantity": 1, "unitPrice": "0.1"},
            ],
            "occurredAt": at(3),
        },
    )
    assert bought["purchases"]["count"] == 1
    assert bought["purchases"]["total"] == "6000.07"
    assert bought["tier"] == "SILVER" and bought["lifecycleStage"] == "NEW_CUSTOMER"
    assert bought["lifecycleReason"].startswith("a purchase or stage")
    assert bought["tierReason"].startswith("1 purchases totalling 6000.07 CNY")
    moved = await run("moveStage", {"to": "QUALIFIED", "occurredAt": at(4)})
    assert moved["stage"] == "QUALIFIED"
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert positions[-1] == await max_position(gw)


async def test_complaints_are_filed_and_resolved(gw: GatewayHarness) -> None:
    cid = (await register(gw, "Cy Wu", 2))["customer"]["id"]
    select = "position version complaint { id customerId category severity status " + (
        "description resolution satisfaction filedAt resolvedAt }"
    )
    filed = await mutate(
        gw,
        "fileComplaint",
        {
            "customerId": cid,
            "category": "billing",
            "severity": "CRITICAL",
            "description": "charged twice",
            "occurredAt": at(5),
        },
        select,
    )
    complaint = filed["data"]["fileComplaint"]["complaint"]
    assert complaint["status"] == "ESCALATED" and complaint["description"] == "charged twice"
    assert complaint["customerId"] == cid and complaint["filedAt"] == at(5)
    resolved = await mutate(
        gw,
        "resolveComplaint",
        {"complaintId": complaint["id"], "resolution": "refunded", "satisfaction": 4},
        select,
    )
    done = resolved["data"]["resolveComplaint"]
    assert done["complaint"]["status"] == "RESOLVED" and done["complaint"]["satisfaction"] == 4
    assert done["version"] == 3
    again = await mutate(
        gw, "resolveComplaint", {"complaintId": complaint["id"], "resolution": "x"}, "position"
    )
    assert first_error(again)["extensions"]["code"] == "RULE"
    read = await gw.data(
        "query($id: ID!) { customer(id: $id) { open: complaints(status: OPEN) { id } "
        "all: complaints { id status } } }",
        {"id": cid},
    )
    assert read["customer"]["open"] == [] and read["customer"]["all"][0]["status"] == "RESOLVED"


async def test_merge_and_forget(gw: GatewayHarness) -> None:
    survivor = (await register(gw, "Di Ma", 3, email="di@example.com"))["customer"]["id"]
    duplicate = (await register(gw, "Di  Ma", 3.5))["customer"]["id"]
    await mutate(
        gw,
        "recordPurchase",
        {
            "customerId": duplicate,
            "orderId": "d-1",
            "lines": [{"sku": "x", "quantity": 1, "unitPrice": "10"}],
            "occurredAt": at(4),
        },
        "position",
    )
    merged = await mutate(
        gw,
        "mergeCustomers",
        {"survivorId": survivor, "duplicateId": duplicate},
        "position customer { id mergedIds purchases { count } }",
        role="compliance",
    )
    customer = merged["data"]["mergeCustomers"]["customer"]
    assert customer["id"] == survivor and customer["mergedIds"] == [duplicate]
    assert customer["purchases"]["count"] == 1
    via_duplicate = await gw.data("query($id: ID!) { customer(id: $id) { id } }", {"id": duplicate})
    assert via_duplicate["customer"]["id"] == survivor
    closed = await mutate(gw, "tagCustomer", {"customerId": duplicate, "add": ["x"]}, "position")
    assert first_error(closed)["extensions"]["code"] == "RULE"

    forgotten = await mutate(
        gw,
        "forgetCustomer",
        {"customerId": survivor, "reason": "GDPR request"},
        "position customer { id name email forgotten }",
        role="compliance",
    )
    assert forgotten["data"]["forgetCustomer"]["customer"] == {
        "id": survivor,
        "name": None,
        "email": None,
        "forgotten": True,
    }
    later = await mutate(gw, "moveStage", {"customerId": survivor, "to": "WON"}, "position")
    assert first_error(later)["extensions"]["code"] == "RULE"
    reused = await register(gw, "New Di", 5, email="di@example.com")
    assert reused["customer"]["email"] == "di@example.com", "a forgotten email is free again"


# -- every error code ---------------------------------------------------------------------


async def test_validation_errors_name_their_field(gw: GatewayHarness) -> None:
    bad_email = await gw.gql(REGISTER, {"input": {"name": "E", "email": "not-an-email"}})
    assert first_error(bad_email)["extensions"] == {"code": "VALIDATION", "field": "email"}
    assert bad_email["data"] is None
    empty = await gw.gql(REGISTER, {"input": {"name": "   "}})
    assert first_error(empty)["extensions"] == {"code": "VALIDATION", "field": "name"}
    bad_id = await mutate(gw, "tagCustomer", {"customerId": "nope", "add": ["a"]}, "position")
    assert first_error(bad_id)["extensions"] == {"code": "VALIDATION", "field": "customerId"}
    naive = await gw.gql(REGISTER, {"input": {"name": "N", "occurredAt": "2024-01-01T00:00:00"}})
    assert error_codes(naive) == ["VALIDATION"]
    cid = (await register(gw, "Val Id", 6))["customer"]["id"]
    quantity = await mutate(
        gw,
        "recordPurchase",
        {
            "customerId": cid,
            "orderId": "q",
            "lines": [{"sku": "a", "quantity": 0, "unitPrice": "1"}],
        },
        "position",
    )
    assert first_error(quantity)["extensions"] == {
        "code": "VALIDATION",
        "field": "lines[0].quantity",
    }
    money = await mutate(
        gw,
        "recordPurchase",
        {
            "customerId": cid,
            "orderId": "m",
            "lines": [{"sku": "a", "quantity": 1, "unitPrice": "x"}],
        },
        "position",
    )
    assert error_codes(money) == ["VALIDATION"]
    currency = await mutate(
        gw,
        "recordPurchase",
        {
            "customerId": cid,
            "orderId": "c",
            "currency": "XXX",
            "lines": [{"sku": "a", "quantity": 1, "unitPrice": "1"}],
        },
        "position",
    )
    assert first_error(currency)["extensions"] == {"code": "VALIDATION", "field": "currency"}
    enum = await mutate(gw, "moveStage", {"customerId": cid, "to": "DONE"}, "position")
    assert error_codes(enum) == ["VALIDATION"]


async def test_rule_conflict_and_not_found(gw: GatewayHarness) -> None:
    first = await register(gw, "Ru Le", 7, email="rule@example.com")
    cid = first["customer"]["id"]
    same_stage = await mutate(gw, "moveStage", {"customerId": cid, "to": "LEAD"}, "position")
    assert error_codes(same_stage) == ["RULE"]
    duplicate_email = await gw.gql(REGISTER, {"input": {"name": "X", "email": "rule@example.com"}})
    assert first_error(duplicate_email)["extensions"] == {"code": "CONFLICT", "field": "email"}
    stale = await mutate(
        gw, "tagCustomer", {"customerId": cid, "add": ["a"], "expectedVersion": 7}, "position"
    )
    assert first_error(stale)["extensions"] == {"code": "CONFLICT", "field": "expectedVersion"}
    current = await mutate(
        gw, "tagCustomer", {"customerId": cid, "add": ["a"], "expectedVersion": 1}, "version"
    )
    assert current["data"]["tagCustomer"]["version"] == 2
    missing = await mutate(
        gw,
        "recordContactTouch",
        {"customerId": "00000000-0000-4000-8000-000000000000", "channel": "PHONE"},
        "position",
    )
    assert error_codes(missing) == ["NOT_FOUND"]
    no_complaint = await mutate(
        gw,
        "resolveComplaint",
        {"complaintId": "00000000-0000-4000-8000-000000000000", "resolution": "x"},
        "position",
    )
    assert error_codes(no_complaint) == ["NOT_FOUND"]


async def test_forbidden_records_nothing(gw: GatewayHarness) -> None:
    before = await max_position(gw)
    refused = await gw.gql(REGISTER, {"input": {"name": "Not Allowed"}}, role="analyst")
    assert first_error(refused)["extensions"] == {"code": "FORBIDDEN"}
    assert refused["data"] is None
    assert await max_position(gw) == before


async def test_an_idempotency_key_records_once(gw: GatewayHarness) -> None:
    input = {"name": "Id Em", "idempotencyKey": "register-idem-1", "occurredAt": at(8)}
    first = await gw.data(REGISTER, {"input": input})
    before = await max_position(gw)
    again = await gw.data(REGISTER, {"input": input})
    assert (
        again["registerCustomer"]["customer"]["id"] == first["registerCustomer"]["customer"]["id"]
    )
    assert again["registerCustomer"]["position"] == first["registerCustomer"]["position"]
    assert await max_position(gw) == before
    other = await mutate(
        gw,
        "moveStage",
        {
            "customerId": first["registerCustomer"]["customer"]["id"],
            "to": "WON",
            "idempotencyKey": "register-idem-1",
        },
        "position",
    )
    assert first_error(other)["extensions"] == {
        "code": "CONFLICT",
        "field": "idempotencyKey",
    }


async def test_a_command_that_changes_nothing_answers_its_stream_position(
    gw: GatewayHarness,
) -> None:
    payload = await register(gw, "No Op", 9)
    cid = payload["customer"]["id"]
    tagged = await mutate(gw, "tagCustomer", {"customerId": cid, "add": ["a"]}, "position version")
    again = await mutate(gw, "tagCustomer", {"customerId": cid, "add": ["a"]}, "position version")
    assert again["data"]["tagCustomer"] == tagged["data"]["tagCustomer"]


# -- read-your-writes ---------------------------------------------------------------------


async def test_at_least_waits_for_the_read_models(gw: GatewayHarness) -> None:
    cid = (await register(gw, "Wait Er", 10))["customer"]["id"]
    context = CommandContext(actor="behind-the-gateway")
    result = await to_thread.run_sync(
        gw.deps.service.handle, TagCustomer(customer_id=_uuid(cid), add=("late",)), context
    )
    query = "query($id: ID!, $p: Int) { customer(id: $id, atLeast: $p) { tags } }"
    stale = await gw.data(query, {"id": cid, "p": None})
    assert stale["customer"]["tags"] == []
    waiting = asyncio.ensure_future(gw.data(query, {"id": cid, "p": result.position}))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await to_thread.run_sync(gw.sync)
    assert (await waiting)["customer"]["tags"] == ["late"]


async def test_at_least_times_out_with_a_clear_error(gw: GatewayHarness) -> None:
    cid = (await register(gw, "Time Out", 11))["customer"]["id"]
    far = await max_position(gw) + 1000
    result = await gw.gql(
        "query($id: ID!, $p: Int) { customer(id: $id, atLeast: $p) { id } }", {"id": cid, "p": far}
    )
    error = first_error(result)
    assert error["extensions"]["code"] == "TIMEOUT" and error["extensions"]["field"] == "atLeast"
    assert error["extensions"]["reached"] < far and "try again" in error["message"]
    negative = await gw.gql(
        "query($id: ID!) { customer(id: $id, atLeast: -1) { id } }", {"id": cid}
    )
    assert first_error(negative)["extensions"] == {"code": "VALIDATION", "field": "atLeast"}


async def test_a_payload_answers_from_the_store_when_the_read_models_lag(
    gw: GatewayHarness,
) -> None:
    gw.deps.after_write = None
    try:
        payload = await register(gw, "Lag Ging", 12, email="lag@example.com")
    finally:
        gw.deps.after_write = gw.sync
    customer = payload["customer"]
    assert customer["name"] == "Lag Ging" and customer["email"] == "lag@example.com"
    assert customer["version"] == 1 and customer["stage"] == "LEAD"
    await to_thread.run_sync(gw.sync)


async def test_an_unknown_customer_is_null(gw: GatewayHarness) -> None:
    result = await gw.data('{ customer(id: "00000000-0000-4000-8000-000000000001") { id } }')
    assert result == {"customer": None}


# -- lists ------------------------------------------------------------------------------


async def test_pages_through_a_filtered_list(gw: GatewayHarness) -> None:
    for i in range(5):
        await register(gw, f"Page {i}", 20 + i, region="north-pager")
    query = (
        'query($after: String) { customers(filter: {region: "north-pager"}, first: 2, '
        "after: $after) { totalCount edges { cursor node { name } } "
        "pageInfo { hasNextPage endCursor } } }"
    )
    seen, after, pages = [], None, 0
    while True:
        page = (await gw.data(query, {"after": after}))["customers"]
        assert page["totalCount"] == 5
        seen += [e["node"]["name"] for e in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"Page {i}" for i in range(5)] and pages == 3
    empty = (await gw.data(query, {"after": page["pageInfo"]["endCursor"]}))["customers"]
    assert empty["edges"] == [] and empty["totalCount"] == 5
    assert empty["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    zero = await gw.data(
        '{ customers(first: 0, filter: {region: "north-pager"}) '
        "{ totalCount edges { cursor } pageInfo { hasNextPage } } }"
    )
    assert zero["customers"] == {"totalCount": 5, "edges": [], "pageInfo": {"hasNextPage": True}}
    bad = await gw.gql(query, {"after": "garbage"})
    assert first_error(bad)["extensions"] == {"code": "VALIDATION", "field": "after"}


async def test_filters(gw: GatewayHarness) -> None:
    rich = (
        await register(gw, "Rich Filter", 30, region="filter-land", owner="carol", company="Globex")
    )["customer"]["id"]
    await mutate(gw, "tagCustomer", {"customerId": rich, "add": ["whale"]}, "position")
    await mutate(
        gw,
        "recordPurchase",
        {
            "customerId": rich,
            "orderId": "big",
            "occurredAt": at(31),
            "lines": [{"sku": "a", "quantity": 1, "unitPrice": "150000"}],
        },
        "position",
    )
    await register(gw, "Poor Filter", 30.5, region="filter-land")
    query = (
        "query($f: CustomerFilter) { customers(filter: $f) { totalCount edges { node { name } } } }"
    )

    async def names(**f: Any) -> list[str]:
        data = await gw.data(query, {"f": {"region": "filter-land", **f}})
        return [e["node"]["name"] for e in data["customers"]["edges"]]

    assert await names() == ["Rich Filter", "Poor Filter"]
    assert await names(tag="WHALE") == ["Rich Filter"]
    assert await names(tier="VIP") == ["Rich Filter"]
    assert await names(lifecycleStage="PROSPECT") == ["Poor Filter"]
    assert await names(stage="LEAD") == ["Rich Filter", "Poor Filter"]
    assert await names(owner="carol") == ["Rich Filter"]
    assert await names(text="glob") == ["Rich Filter"]
    assert await names(text="poor") == ["Poor Filter"]


async def test_sorting(gw: GatewayHarness) -> None:
    for name, days in (("b-sort", 40), ("A-sort", 41), ("c-sort", 39)):
        await register(gw, name, days, region="sort-land")
    query = (
        'query($o: CustomerOrder, $after: String) { customers(filter: {region: "sort-land"}, '
        "orderBy: $o, first: 2, after: $after) { edges { node { name } } "
        "pageInfo { hasNextPage endCursor } } }"
    )

    async def order(o: dict[str, str] | None) -> list[str]:
        names, after = [], None
        while True:
            page = (await gw.data(query, {"o": o, "after": after}))["customers"]
            names += [e["node"]["name"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return names
            after = page["pageInfo"]["endCursor"]

    assert await order(None) == ["c-sort", "b-sort", "A-sort"]
    assert await order({"field": "CREATED_AT", "direction": "DESC"}) == [
        "A-sort",
        "b-sort",
        "c-sort",
    ]
    assert await order({"field": "NAME"}) == ["A-sort", "b-sort", "c-sort"]
    assert await order({"field": "NAME", "direction": "DESC"}) == ["c-sort", "b-sort", "A-sort"]
    assert await order({"field": "UPDATED_AT", "direction": "DESC"}) == [
        "A-sort",
        "b-sort",
        "c-sort",
    ]
    first = (await gw.data(query, {"o": {"field": "NAME"}, "after": None}))["customers"]
    mixed = await gw.gql(
        query, {"o": {"field": "UPDATED_AT"}, "after": first["pageInfo"]["endCursor"]}
    )
    assert first_error(mixed)["extensions"] == {"code": "VALIDATION", "field": "after"}


async def test_funnel_and_distributions(gw: GatewayHarness) -> None:
    a = (await register(gw, "Fun A", 100, source="funnel-src"))["customer"]["id"]
    b = (await register(gw, "Fun B", 100, source="funnel-src"))["customer"]["id"]
    await mutate(
        gw, "moveStage", {"customerId": a, "to": "PROPOSAL", "occurredAt": at(101)}, "position"
    )
    await mutate(
        gw, "moveStage", {"customerId": b, "to": "CONTACTED", "occurredAt": at(101)}, "position"
    )
    data = await gw.data(
        'query($from: DateTime) { funnel(from: $from, source: "funnel-src") '
        "{ stages { stage reached conversionFromPrevious } } "
        "lifecycleDistribution { stage count } tierDistribution { tier count } }",
        {"from": at(99)},
    )
    stages = {s["stage"]: s for s in data["funnel"]["stages"]}
    assert stages["LEAD"] == {"stage": "LEAD", "reached": 2, "conversionFromPrevious": None}
    assert stages["CONTACTED"]["reached"] == 2 and stages["QUALIFIED"]["reached"] == 1
    assert stages["QUALIFIED"]["conversionFromPrevious"] == 0.5
    assert [s["stage"] for s in data["lifecycleDistribution"]][:2] == ["PROSPECT", "OPPORTUNITY"]
    assert sum(s["count"] for s in data["tierDistribution"]) >= 2


# -- the event store: audit trail and past states ----------------------------------------


async def test_the_audit_trail_lists_every_event_with_its_actor(gw: GatewayHarness) -> None:
    registered = await gw.data(
        REGISTER,
        {
            "input": {
                "name": "Au Dit",
                "email": "audit@example.com",
                "occurredAt": at(200),
                "owner": "sam",
            }
        },
        role="sales",
        subject="sam",
    )
    cid = registered["registerCustomer"]["customer"]["id"]
    await mutate(
        gw,
        "fileComplaint",
        {
            "customerId": cid,
            "category": "late",
            "severity": "LOW",
            "description": "parcel late",
            "occurredAt": at(201),
        },
        "position",
        role="support",
        subject="sue",
    )
    await mutate(
        gw,
        "moveStage",
        {"customerId": cid, "to": "CONTACTED", "occurredAt": at(202)},
        "position",
        role="sales",
        subject="sam",
    )
    query = (
        "query($id: ID!, $first: Int, $after: String) { auditTrail(customerId: $id, "
        "first: $first, after: $after) { edges { cursor node { position type version occurredAt "
        "recordedAt actor data streamId customerId } } pageInfo { hasNextPage endCursor } } }"
    )
    trail = (await gw.data(query, {"id": cid}, role="compliance"))["auditTrail"]
    events = [e["node"] for e in trail["edges"]]
    assert [e["type"] for e in events] == [
        "crm.customer.registered.v1",
        "crm.complaint.filed.v1",
        "crm.customer.stage_moved.v1",
    ]
    assert [e["actor"] for e in events] == ["sam", "sue", "sam"]
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)
    assert events[1]["streamId"] != cid and events[1]["customerId"] == cid
    assert json.loads(events[0]["data"])["email"] == "audit@example.com"
    assert json.loads(events[1]["data"])["description"] == "parcel late"
    assert events[2]["occurredAt"] == at(202)
    first = (await gw.data(query, {"id": cid, "first": 2}, role="compliance"))["auditTrail"]
    assert first["pageInfo"]["hasNextPage"]
    rest = (
        await gw.data(
            query,
            {"id": cid, "first": 2, "after": first["pageInfo"]["endCursor"]},
            role="compliance",
        )
    )["auditTrail"]
    assert [e["node"]["position"] for e in first["edges"] + rest["edges"]] == [
        e["position"] for e in events
    ]
    assert not rest["pageInfo"]["hasNextPage"]

    await mutate(gw, "forgetCustomer", {"customerId": cid, "reason": "asked"}, "position")
    after = (await gw.data(query, {"id": cid}, role="compliance"))["auditTrail"]
    forgotten = [e["node"] for e in after["edges"]]
    assert len(forgotten) == 4 and forgotten[-1]["type"] == "crm.customer.forgotten.v1"
    assert json.loads(forgotten[0]["data"])["email"] is None
    assert json.loads(forgotten[0]["data"])["name"] is None
    assert json.loads(forgotten[1]["data"])["description"] is None
    assert json.loads(forgotten[1]["data"])["category"] == "late"
    assert [e["actor"] for e in forgotten] == ["sam", "sue", "sam", "admin-user"]
    bad = await gw.gql(query, {"id": cid, "after": "zzz"}, role="compliance")
    assert first_error(bad)["extensions"] == {"code": "VALIDATION", "field": "after"}


async def test_customer_as_of_rebuilds_past_states(gw: GatewayHarness) -> None:
    cid = (await register(gw, "As Of", 300, email="asof@example.com"))["customer"]["id"]
    await mutate(
        gw,
        "recordPurchase",
        {
            "customerId": cid,
            "orderId": "p1",
            "occurredAt": at(301),
            "lines": [{"sku": "a", "quantity": 2, "unitPrice": "50"}],
        },
        "position",
    )
    await mutate(
        gw, "moveStage", {"customerId": cid, "to": "WON", "occurredAt": at(302)}, "position"
    )
    await mutate(
        gw, "tagCustomer", {"customerId": cid, "add": ["gold"], "occurredAt": at(303)}, "position"
    )
    query = (
        "query($id: ID!, $at: DateTime!) { customerAsOf(id: $id, at: $at) "
        "{ id version name email stage tags purchaseCount purchaseTotal asOf } }"
    )

    async def state(days: float) -> Any:
        data = await gw.data(query, {"id": cid, "at": at(days)}, role="compliance")
        return data["customerAsOf"]

    assert await state(299) is None
    assert (await state(300))["version"] == 1
    registered = await state(300.5)
    assert (registered["stage"], registered["purchaseCount"], registered["tags"]) == ("LEAD", 0, [])
    bought = await state(301.5)
    assert (bought["version"], bought["purchaseCount"], bought["purchaseTotal"]) == (2, 1, "100.00")
    assert bought["name"] == "As Of" and bought["asOf"] == at(301)
    won = await state(302.5)
    assert won["stage"] == "WON" and won["tags"] == []
    assert (await state(1000))["tags"] == ["gold"]
    assert (
        await gw.data(
            query, {"id": "00000000-0000-4000-8000-000000000002", "at": at(1)}, role="compliance"
        )
    )["customerAsOf"] is None
    naive = await gw.gql(query, {"id": cid, "at": "2024-01-01T00:00:00"}, role="compliance")
    assert first_error(naive)["extensions"]["code"] == "VALIDATION"


def _uuid(text: str) -> Any:
    from uuid import UUID

    return UUID(text)
