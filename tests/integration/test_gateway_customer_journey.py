"""End to end over GraphQL on the real servers: one customer walked through every
command the API offers, then its timeline checked against what was sent: the kinds,
their order (newest first), their values and actors; its audit trail's before and after
values per field; and after `forgetCustomer`, the same entries with the personal values
gone.

(`AdvanceLifecycle` is the scheduler's command, not a mutation: tests of the lifecycle
scheduler cover its LIFECYCLE_CHANGE entries' source.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import NOW, at, done, new_customer, timeline

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, clock=lambda: NOW, limits=Limits(read_wait_seconds=1.0))
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def walk(gw: GatewayHarness) -> tuple[str, dict[str, str], list[tuple[str, dict[str, Any]]]]:
    """Send every command; return the customer, other ids, and the expected entries
    oldest first as (kind, fields the entry must carry)."""
    sales = {"role": "sales", "subject": "sam@crm"}
    support = {"role": "support", "subject": "sue@crm"}
    cid = await new_customer(
        gw, "Jia Walker", 0, email="jia@example.com", phone="13800138000", owner="bob"
    )
    c = {"customerId": cid}
    expected: list[tuple[str, dict[str, Any]]] = [
        ("REGISTERED", {"name": "Jia Walker", "email": "jia@example.com", "owner": "bob"})
    ]
    await done(
        gw, "changeContactDetails", {**c, "address": "1 Bund Rd", "occurredAt": at(1)}, **sales
    )
    expected.append(("DETAILS_CHANGED", {"changed": ["address"], "address": "1 Bund Rd"}))
    await done(
        gw,
        "tagCustomer",
        {**c, "add": ["vip", "east"], "remove": ["east"], "occurredAt": at(2)},
        **sales,
    )
    expected.append(("TAGGED", {"added": ["vip", "east"], "removed": []}))
    expected.append(("TAGGED", {"added": [], "removed": ["east"]}))
    await done(
        gw,
        "recordContactTouch",
        {
            **c,
            "channel": "WECHAT",
            "direction": "INBOUND",
            "summary": "asked for a quote",
            "outcome": "quote promised",
            "occurredAt": at(3),
        },
        **support,
    )
    expected.append(
        (
            "TOUCH",
            {
                "channel": "WECHAT",
                "direction": "INBOUND",
                "summaryText": "asked for a quote",
                "outcome": "quote promised",
            },
        )
    )
    await done(
        gw,
        "recordNeed",
        {
            **c,
            "needId": "n-1",
            "description": "30 chairs",
            "productInterest": "CHAIR-1",
            "occurredAt": at(4),
        },
        **sales,
    )
    expected.append(
        ("NEED", {"needId": "n-1", "description": "30 chairs", "productInterest": "CHAIR-1"})
    )
    await done(gw, "moveStage", {**c, "to": "QUALIFIED", "occurredAt": at(5)}, **sales)
    expected.append(("STAGE_MOVE", {"from": "LEAD", "to": "QUALIFIED", "reason": None}))
    await done(
        gw,
        "recordPurchase",
        {
            **c,
            "orderId": "SO-9",
            "currency": "CNY",
            "occurredAt": at(6),
            "lines": [{"sku": "CHAIR-1", "quantity": 30, "unitPrice": "99.50"}],
        },
        **sales,
    )
    expected.append(
        (
            "PURCHASE",
            {
                "orderId": "SO-9",
                "currency": "CNY",
                "total": "2985.00",
                "totalCny": "2985.00",
                "lines": [
                    {"sku": "CHAIR-1", "quantity": 30, "unitPrice": "99.50", "amount": "2985.00"}
                ],
            },
        )
    )
    await done(
        gw, "assignOwner", {**c, "owner": "amy", "reason": "bob left", "occurredAt": at(7)}, **sales
    )
    expected.append(
        ("OWNER_CHANGE", {"owner": "amy", "previousOwner": "bob", "reason": "bob left"})
    )
    await done(
        gw,
        "changeConsent",
        {**c, "purpose": "marketing", "channel": "EMAIL", "granted": True, "occurredAt": at(8)},
        **sales,
    )
    expected.append(("CONSENT", {"purpose": "marketing", "channel": "EMAIL", "granted": True}))
    await done(
        gw,
        "answerSurvey",
        {**c, "surveyId": "nps-q1", "score": 4, "comment": "good", "occurredAt": at(9)},
        **sales,
    )
    expected.append(("SURVEY", {"surveyId": "nps-q1", "score": 4, "comment": "good"}))
    filed = await done(
        gw,
        "fileComplaint",
        {
            **c,
            "category": "quality",
            "severity": "HIGH",
            "description": "a chair broke",
            "occurredAt": at(10),
        },
        "complaint { id }",
        **support,
    )
    k = filed["complaint"]["id"]
    expected.append(
        (
            "COMPLAINT_FILED",
            {
                "complaintId": k,
                "category": "quality",
                "severity": "HIGH",
                "description": "a chair broke",
            },
        )
    )
    await done(
        gw,
        "escalateComplaint",
        {"complaintId": k, "reason": "angry call", "occurredAt": at(11)},
        **support,
    )
    expected.append(
        ("COMPLAINT_ESCALATED", {"complaintId": k, "reason": "angry call", "automatic": False})
    )
    await done(
        gw,
        "assignComplaint",
        {"complaintId": k, "assignee": "sue", "occurredAt": at(12)},
        **support,
    )
    expected.append(
        ("COMPLAINT_ASSIGNED", {"complaintId": k, "assignee": "sue", "previousAssignee": None})
    )
    await done(
        gw,
        "resolveComplaint",
        {"complaintId": k, "resolution": "replaced", "satisfaction": 4, "occurredAt": at(13)},
        **support,
    )
    expected.append(
        ("COMPLAINT_RESOLVED", {"complaintId": k, "resolution": "replaced", "satisfaction": 4})
    )
    friend = await new_customer(gw, "Friend", 14, referredBy=cid)
    expected.append(("REFERRAL", {}))
    dup = await new_customer(gw, "Jia W.", 15)
    await done(gw, "mergeCustomers", {"survivorId": cid, "duplicateId": dup, "occurredAt": at(15)})
    expected.append(("MERGE", {"survivorId": cid, "duplicateId": dup}))
    return cid, {"complaint": k, "friend": friend, "dup": dup}, expected


ACTORS = {
    "REGISTERED": "admin-user",
    "TOUCH": "sue@crm",
    "COMPLAINT_FILED": "sue@crm",
    "COMPLAINT_ESCALATED": "sue@crm",
    "COMPLAINT_ASSIGNED": "sue@crm",
    "COMPLAINT_RESOLVED": "sue@crm",
    "REFERRAL": "admin-user",
    "MERGE": "admin-user",
    "FORGOTTEN": "admin-user",
}


async def test_every_command_appears_in_the_timeline_as_sent(gw: GatewayHarness) -> None:
    cid, _ids, expected = await walk(gw)
    page = await timeline(gw, cid, role="sales", first=100)
    nodes = [e["node"] for e in page["edges"]]
    assert [n["kind"] for n in nodes] == [kind for kind, _ in reversed(expected)]
    for node, (kind, fields) in zip(reversed(nodes), expected, strict=True):
        assert {f: node[f] for f in fields} == fields, kind
        assert node["actor"] == ACTORS.get(kind, "sam@crm"), kind
    times = [n["at"] for n in reversed(nodes)]
    assert times[1:15] == [at(h) for h in (1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)]
    positions = [n["position"] for n in nodes]
    assert positions == sorted(positions, reverse=True) and len(set(positions)) == len(nodes)
    assert len({n["id"] for n in nodes}) == len(nodes)
    assert all(n["summary"] for n in nodes)
    assert nodes[0]["__typename"] == "MergeEntry"


async def test_forgetting_keeps_the_entries_and_drops_the_personal_values(
    gw: GatewayHarness,
) -> None:
    cid, _ids, expected = await walk(gw)
    await done(gw, "forgetCustomer", {"customerId": cid, "reason": "subject request"})
    page = await timeline(gw, cid, role="admin", first=100)
    nodes = [e["node"] for e in page["edges"]]
    assert [n["kind"] for n in nodes] == ["FORGOTTEN"] + [k for k, _ in reversed(expected)]
    assert nodes[0]["reason"] == "subject request"
    by_kind = {n["kind"]: n for n in nodes}
    assert by_kind["REGISTERED"]["name"] is None and by_kind["REGISTERED"]["email"] is None
    assert by_kind["TOUCH"]["summaryText"] is None and by_kind["TOUCH"]["channel"] == "WECHAT"
    assert by_kind["NEED"]["description"] is None and by_kind["NEED"]["needId"] == "n-1"
    assert by_kind["PURCHASE"]["total"] == "2985.00", "facts that are not personal stay"
    assert by_kind["OWNER_CHANGE"]["reason"] is None and by_kind["OWNER_CHANGE"]["owner"] == "amy"


TRAIL = """query($id: ID!) { auditTrail(customerId: $id, first: 200) { edges { node {
  type actor streamId changes { field before after } } } } }"""


def _changes(node: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        c["field"]: (
            None if c["before"] is None else json.loads(c["before"]),
            None if c["after"] is None else json.loads(c["after"]),
        )
        for c in node["changes"]
    }


async def test_the_audit_trail_has_each_commands_before_and_after(gw: GatewayHarness) -> None:
    cid, ids, _expected = await walk(gw)
    edges = (await gw.data(TRAIL, {"id": cid}, role="compliance"))["auditTrail"]["edges"]
    own = [e["node"] for e in edges if e["node"]["streamId"] == cid]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for node in own:
        by_type.setdefault(node["type"].split(".")[2], []).append(node)

    registered = by_type["registered"][0]
    assert _changes(registered)["name"] == (None, "Jia Walker")
    assert _changes(registered)["email"] == (None, "jia@example.com")
    assert registered["actor"] == "admin-user"
    contact = by_type["contact_details_changed"][0]
    assert _changes(contact) == {"address": (None, "1 Bund Rd")}
    assert contact["actor"] == "sam@crm"
    added, removed = by_type["tagged"][0], by_type["untagged"][0]
    assert _changes(added)["tags"][0] in (None, [])
    assert set(_changes(added)["tags"][1]) == {"vip", "east"}
    assert set(_changes(removed)["tags"][0]) == {"vip", "east"}
    assert _changes(removed)["tags"][1] == ["vip"]
    assert _changes(by_type["stage_moved"][0])["stage"] == ("LEAD", "QUALIFIED")
    owner = _changes(by_type["owner_assigned"][0])
    assert owner["owner"] == ("bob", "amy")

    complaint = [e["node"] for e in edges if e["node"]["streamId"] == ids["complaint"]]
    statuses = [_changes(n).get("status") for n in complaint]
    assert ("OPEN", "ESCALATED") in statuses and ("ESCALATED", "RESOLVED") in statuses
    assigned = next(n for n in complaint if n["type"].split(".")[2] == "assigned")
    assert _changes(assigned)["assignee"] == (None, "sue")
    assert assigned["actor"] == "sue@crm"
