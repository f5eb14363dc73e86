"""`subjectExport`: the data-subject export of `crm audit export`, through GraphQL (the
compliance screen's download)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

import pytest

from compliance.access_log import access_history
from compliance.export import FORMAT, export_text, verify_export
from tests.integration.support.gateway import GatewayHarness, error_codes, first_error

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

EXPORT = "query($id: ID!) { subjectExport(customerId: $id) { fileName checksum document } }"
TRAIL = "query($id: ID!) { auditTrail(customerId: $id) { edges { node { position type } } } }"
REGISTER = (
    "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { customer { id } } }"
)
TAG = "mutation($i: TagCustomerInput!) { tagCustomer(input: $i) { customer { id } } }"


async def register(gw: GatewayHarness, name: str, email: str) -> str:
    data = await gw.data(REGISTER, {"i": {"name": name, "email": email, "owner": "sales-user"}})
    customer: str = data["registerCustomer"]["customer"]["id"]
    return customer


async def exported(gw: GatewayHarness, customer: str, subject: str) -> dict[str, Any]:
    answer = (await gw.data(EXPORT, {"id": customer}, role="compliance", subject=subject))[
        "subjectExport"
    ]
    document: dict[str, Any] = json.loads(answer["document"])
    assert answer["document"] == export_text(document), "the text crm audit export writes"
    assert answer["checksum"] == document["checksum"]
    assert answer["fileName"] == f"subject-export-{customer}.json"
    return document


async def test_compliance_gets_the_verifiable_export_of_the_customer_alone(
    gw: GatewayHarness,
) -> None:
    customer = await register(gw, "宋雨桐", "yutong@example.com")
    await gw.data(TAG, {"i": {"customerId": customer, "add": ["export-me"]}})
    other = await register(gw, "韩立", "hanli@example.com")

    document = await exported(gw, customer, "zhao.li")

    assert verify_export(document) == []
    manifest = document["manifest"]
    assert manifest["format"] == FORMAT
    assert manifest["customer_id"] == customer
    assert manifest["generated_by"] == "zhao.li"
    assert document["customer"]["state"]["email"] == "yutong@example.com"
    trail = (await gw.data(TRAIL, {"id": customer}, role="compliance"))["auditTrail"]["edges"]
    assert [(e["position"], e["type"]) for e in document["events"]] == [
        (e["node"]["position"], e["node"]["type"]) for e in trail
    ]
    assert [e["type"] for e in document["events"]] == [
        "crm.customer.registered.v1",
        "crm.customer.tagged.v1",
    ]
    assert {e["stream_id"] for e in document["events"]} == {customer}
    assert other not in json.dumps(document)
    # Read models too, not just the event store: the profile's row is there.
    assert any(
        row.get("email") == "yutong@example.com"
        for rows in document["read_models"].values()
        for row in rows
    )


async def test_the_export_is_recorded_in_the_access_log(gw: GatewayHarness) -> None:
    customer = await register(gw, "顾念", "gunian@example.com")
    await exported(gw, customer, "qian.wei")
    assert gw.deps.access_log is not None
    gw.deps.access_log.flush()
    reads = [
        r
        for r in access_history(gw.deps.app, UUID(customer))
        if r.operation == "graphql:subjectExport"
    ]
    assert [(r.actor, r.role) for r in reads] == [("qian.wei", "compliance")]
    assert {"name", "email"} <= set(reads[0].fields)
    # The next export lists that read in its own access-log section.
    again = await exported(gw, customer, "qian.wei")
    assert "graphql:subjectExport" in [r["operation"] for r in again["access_log"]]


@pytest.mark.parametrize("role", ["sales", "support", "analyst", "manager"])
async def test_roles_without_audit_access_are_refused(gw: GatewayHarness, role: str) -> None:
    customer = await register(gw, f"Refused {role}", f"refused-{role}@example.com")
    result = await gw.gql(EXPORT, {"id": customer}, role=role)
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["data"] is None


async def test_an_unknown_customer_is_not_found(gw: GatewayHarness) -> None:
    result = await gw.gql(EXPORT, {"id": str(uuid4())}, role="compliance")
    assert first_error(result)["extensions"] == {"code": "NOT_FOUND", "field": "customerId"}
    assert result["data"] is None
