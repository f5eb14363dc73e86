"""Helpers for the timeline, profile-list and complaint-queue tests over GraphQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.support.gateway import OWNER, GatewayHarness

T0 = datetime(2024, 3, 1, 9, tzinfo=UTC)
NOW = T0 + timedelta(days=60)


def at(hours: float) -> str:
    """Business time `hours` after T0, as the API takes it."""
    return (T0 + timedelta(hours=hours)).isoformat()


ENTRY = """
  __typename id kind at actor position summary
  ... on RegisteredEntry { name email phone company region source owner }
  ... on DetailsChangedEntry { changed phone address }
  ... on TaggedEntry { added removed }
  ... on PurchaseEntry { orderId total currency totalCny lines { sku quantity unitPrice amount } }
  ... on TouchEntry { channel direction summaryText outcome }
  ... on NeedEntry { needId description productInterest }
  ... on ComplaintFiledEntry { complaintId category severity description }
  ... on ComplaintEscalatedEntry { complaintId reason automatic }
  ... on ComplaintAssignedEntry { complaintId assignee previousAssignee }
  ... on ComplaintResolvedEntry { complaintId resolution satisfaction }
  ... on StageMoveEntry { from to reason }
  ... on SurveyEntry { surveyId score comment }
  ... on ConsentEntry { purpose channel granted }
  ... on OwnerChangeEntry { owner previousOwner reason }
  ... on MergeEntry { survivorId duplicateId }
  ... on ForgottenEntry { reason }
"""

TIMELINE = (
    "query($id: ID!, $first: Int, $after: String, $last: Int, $before: String, "
    "$types: [TimelineKind!]) { customer(id: $id) { timeline(first: $first, after: $after, "
    "last: $last, before: $before, types: $types) { edges { cursor node { " + ENTRY + " } } "
    "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"
)


async def mutate(
    gw: GatewayHarness, name: str, input: dict[str, Any], select: str = "position", **kw: Any
) -> dict[str, Any]:
    """The whole JSON answer of one mutation field called with `input`."""
    input_type = f"{name[0].upper()}{name[1:]}Input"
    query = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {select} }} }}"
    return await gw.gql(query, {"input": input}, **kw)


async def done(
    gw: GatewayHarness, name: str, input: dict[str, Any], select: str = "position", **kw: Any
) -> dict[str, Any]:
    """The payload of a mutation expected to succeed."""
    result = await mutate(gw, name, input, select, **kw)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"][name]
    return payload


async def timeline(gw: GatewayHarness, cid: str, role: str = "admin", **args: Any) -> Any:
    data = await gw.data(TIMELINE, {"id": cid, **args}, role=role)
    return data["customer"]["timeline"]


async def new_customer(gw: GatewayHarness, name: str, hours: float = 0, **fields: Any) -> str:
    """A customer owned by `OWNER` (the test team's, so every test subject reaches it)
    unless `owner` is given (None: unowned)."""
    fields.setdefault("owner", OWNER)
    payload = await done(
        gw,
        "registerCustomer",
        {"name": name, "occurredAt": at(hours), **fields},
        "customer { id }",
    )
    cid: str = payload["customer"]["id"]
    return cid


async def file_complaint(
    gw: GatewayHarness, cid: str, severity: str = "MEDIUM", hours: float = 1, **fields: Any
) -> str:
    payload = await done(
        gw,
        "fileComplaint",
        {
            "customerId": cid,
            "category": fields.pop("category", "delivery"),
            "severity": severity,
            "description": fields.pop("description", "the parcel was late"),
            "occurredAt": at(hours),
            **fields,
        },
        "complaint { id }",
    )
    complaint_id: str = payload["complaint"]["id"]
    return complaint_id
