"""The role matrix of RULES.md through HTTP: each role against each mutation and each
guarded query; FORBIDDEN records nothing; personal fields null where not allowed."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio
from anyio import to_thread

from gateway.roles import MATRIX, Permission, Role
from tests.integration.support.gateway import GatewayHarness, error_codes

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROLES = [r.value for r in Role]
DUE = (datetime.now(UTC) + timedelta(days=30)).isoformat()


@pytest_asyncio.fixture(loop_scope="session")
async def people(gw: GatewayHarness) -> dict[str, str]:
    """A fresh customer with a complaint, and a spare customer to merge into it."""
    register = (
        "mutation($n: String!, $e: String) { registerCustomer(input: {name: $n, email: $e, "
        'phone: "13800138000", company: "Acme", owner: "sales-user"}) { customer { id } } }'
    )
    main = await gw.data(register, {"n": "Role Model", "e": f"role-{uuid4().hex[:8]}@example.com"})
    spare = await gw.data(register, {"n": "Spare", "e": None})
    cid = main["registerCustomer"]["customer"]["id"]
    filed = await gw.data(
        'mutation($id: ID!) { fileComplaint(input: {customerId: $id, category: "c", '
        'severity: LOW, description: "secret text"}) { complaint { id } } }',
        {"id": cid},
    )
    run = uuid4().hex[:8]
    for key, kind in ((f"seats_{run}", "NUMBER"), (f"old_{run}", "TEXT")):
        await gw.data(
            "mutation($i: DefineCustomFieldInput!) { defineCustomField(input: $i) { position } }",
            {"i": {"key": key, "label": key, "type": kind}},
        )
    scheduled = await gw.data(
        "mutation($i: ScheduleTaskInput!) { scheduleTask(input: $i) { task { id } } }",
        {"i": {"customerId": cid, "kind": "VISIT", "title": "t", "assignee": "amy", "dueAt": DUE}},
    )
    return {
        "customer": cid,
        "task": scheduled["scheduleTask"]["task"]["id"],
        "spare": spare["registerCustomer"]["customer"]["id"],
        "run": run,
        "complaint": filed["fileComplaint"]["complaint"]["id"],
    }


def mutations(ids: dict[str, str]) -> dict[Permission, tuple[str, dict[str, Any]]]:
    c = ids["customer"]
    return {
        Permission.REGISTER_CUSTOMER: ("registerCustomer", {"name": "Someone New"}),
        Permission.CHANGE_CONTACT_DETAILS: ("changeContactDetails", {"customerId": c}),
        Permission.TAG_CUSTOMER: ("tagCustomer", {"customerId": c}),
        Permission.RECORD_CONTACT_TOUCH: (
            "recordContactTouch",
            {"customerId": c, "channel": "PHONE"},
        ),
        Permission.RECORD_PURCHASE: (
            "recordPurchase",
            {
                "customerId": c,
                "orderId": "o",
                "lines": [{"sku": "a", "quantity": 1, "unitPrice": "1"}],
            },
        ),
        Permission.MOVE_STAGE: ("moveStage", {"customerId": c, "to": "CONTACTED"}),
        Permission.FILE_COMPLAINT: (
            "fileComplaint",
            {"customerId": c, "category": "c", "severity": "LOW", "description": "d"},
        ),
        Permission.ASSIGN_OWNER: ("assignOwner", {"customerId": c, "owner": "amy"}),
        Permission.RECORD_NEED: ("recordNeed", {"customerId": c, "description": "desks"}),
        Permission.ADD_NOTE: ("addNote", {"customerId": c, "text": "called, wants a demo"}),
        Permission.SCHEDULE_TASK: (
            "scheduleTask",
            {"customerId": c, "kind": "CALL_BACK", "title": "t", "assignee": "amy", "dueAt": DUE},
        ),
        Permission.RESCHEDULE_TASK: ("rescheduleTask", {"taskId": ids["task"], "dueAt": DUE}),
        Permission.COMPLETE_TASK: ("completeTask", {"taskId": ids["task"]}),
        Permission.CANCEL_TASK: ("cancelTask", {"taskId": ids["task"]}),
        Permission.CHANGE_CONSENT: (
            "changeConsent",
            {"customerId": c, "purpose": "marketing", "granted": True},
        ),
        Permission.ANSWER_SURVEY: (
            "answerSurvey",
            {"customerId": c, "surveyId": "s-1", "score": 4},
        ),
        Permission.ESCALATE_COMPLAINT: ("escalateComplaint", {"complaintId": ids["complaint"]}),
        Permission.ASSIGN_COMPLAINT: (
            "assignComplaint",
            {"complaintId": ids["complaint"], "assignee": "susan"},
        ),
        Permission.RESOLVE_COMPLAINT: (
            "resolveComplaint",
            {"complaintId": ids["complaint"], "resolution": "done"},
        ),
        Permission.MERGE_CUSTOMERS: (
            "mergeCustomers",
            {"survivorId": c, "duplicateId": ids["spare"]},
        ),
        Permission.FORGET_CUSTOMER: ("forgetCustomer", {"customerId": c, "reason": "r"}),
        Permission.IMPORT_CUSTOMERS: (
            "importCustomers",
            {"file": base64.b64encode("姓名\n导入的人\n".encode()).decode()},
        ),
        Permission.SET_CUSTOM_FIELDS: (
            "setCustomFields",
            {"customerId": c, "values": [{"key": f"seats_{ids['run']}", "value": "3"}]},
        ),
        Permission.DEFINE_CUSTOM_FIELD: (
            "defineCustomField",
            {"key": f"role_{uuid4().hex[:8]}", "label": "New", "type": "DATE"},
        ),
        Permission.RETIRE_CUSTOM_FIELD: ("retireCustomField", {"key": f"old_{ids['run']}"}),
    }


async def max_position(gw: GatewayHarness) -> int:
    return await to_thread.run_sync(lambda: gw.deps.app.recorder.max_notification_id() or 0)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
async def test_a_refused_mutation_is_forbidden_and_records_nothing(
    gw: GatewayHarness, people: dict[str, str], role: str
) -> None:
    for permission, (name, input) in mutations(people).items():
        input_type = f"{name[0].upper()}{name[1:]}Input"
        query = f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ position }} }}"
        before = await max_position(gw)
        result = await gw.gql(query, {"i": input}, role=role)
        allowed = permission in MATRIX[Role(role)]
        if allowed:
            assert "FORBIDDEN" not in error_codes(result), (role, name, result)
        else:
            assert error_codes(result) == ["FORBIDDEN"], (role, name)
            assert await max_position(gw) == before, (role, name)


async def test_admin_may_run_every_mutation(gw: GatewayHarness, people: dict[str, str]) -> None:
    for _permission, (name, input) in mutations(people).items():
        input_type = f"{name[0].upper()}{name[1:]}Input"
        query = f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ position }} }}"
        result = await gw.gql(query, {"i": input}, role="admin")
        assert "FORBIDDEN" not in error_codes(result), (name, result)


QUERIES = {
    Permission.READ_CUSTOMERS: "query($id: ID!) { customer(id: $id) { id } }",
    Permission.READ_ANALYTICS: "{ funnel { stages { stage } } }",
    Permission.READ_AUDIT: "query($id: ID!) { auditTrail(customerId: $id) { edges { cursor } } }",
    Permission.READ_TIMELINE: (
        "query($id: ID!) { customer(id: $id) { timeline { edges { cursor } } } }"
    ),
    Permission.READ_COMPLAINT_QUEUE: "{ complaintQueue { edges { cursor } } }",
    Permission.READ_OWN_TASKS: "{ myTasks { hasNextPage } }",
    Permission.FIND_DUPLICATES: "{ duplicateCandidates { edges { cursor } } }",
    Permission.READ_ORGANISATION: "{ organisation { rules { rule } } }",
}


@pytest.mark.parametrize("role", ROLES)
async def test_guarded_queries_follow_the_matrix(
    gw: GatewayHarness, people: dict[str, str], role: str
) -> None:
    for permission, query in QUERIES.items():
        variables = {"id": people["customer"]} if "$id" in query else None
        result = await gw.gql(query, variables, role=role)
        forbidden = error_codes(result) == ["FORBIDDEN"]
        assert forbidden != (permission in MATRIX[Role(role)]), (role, permission)
    as_of = await gw.gql(
        'query($id: ID!) { customerAsOf(id: $id, at: "2100-01-01T00:00:00Z") { id } }',
        {"id": people["customer"]},
        role=role,
    )
    assert (error_codes(as_of) == ["FORBIDDEN"]) == (role not in ("admin", "compliance"))
    export = await gw.gql(
        "query($id: ID!) { subjectExport(customerId: $id) { checksum } }",
        {"id": people["customer"]},
        role=role,
    )
    assert (error_codes(export) == ["FORBIDDEN"]) == (role not in ("admin", "compliance"))
    assert (export["data"] is not None) == (role in ("admin", "compliance"))
    for field in ("lifecycleDistribution { count }", "tierDistribution { count }"):
        result = await gw.gql("{ " + field + " }", role=role)
        scoped = ("sales", "support", "manager")
        assert (error_codes(result) == ["FORBIDDEN"]) == (role in scoped), field


@pytest.mark.parametrize("role", ROLES)
async def test_personal_fields_are_null_for_roles_that_may_not_see_them(
    gw: GatewayHarness, people: dict[str, str], role: str
) -> None:
    data = await gw.data(
        "query($id: ID!) { customer(id: $id) { name email phone company "
        "complaints { description category } } }",
        {"id": people["customer"]},
        role=role,
    )
    customer = data["customer"]
    sees = role != "analyst"
    assert (customer["name"] is not None) == sees, role
    assert (customer["email"] is not None) == sees and (customer["phone"] is not None) == sees
    assert customer["company"] == "Acme"
    assert all((c["description"] is not None) == sees for c in customer["complaints"])


async def test_analysts_may_not_search_or_sort_by_personal_data(gw: GatewayHarness) -> None:
    text = await gw.gql('{ customers(filter: {text: "role"}) { totalCount } }', role="analyst")
    assert text["errors"][0]["extensions"] == {"code": "FORBIDDEN", "field": "filter.text"}
    by_name = await gw.gql("{ customers(orderBy: {field: NAME}) { totalCount } }", role="analyst")
    assert by_name["errors"][0]["extensions"] == {"code": "FORBIDDEN", "field": "orderBy.field"}
    lists = await gw.data('{ customers(filter: {tag: "x"}) { totalCount } }', role="analyst")
    assert lists["customers"]["totalCount"] >= 0


async def test_the_subject_is_the_actor_of_every_event(
    gw: GatewayHarness, people: dict[str, str]
) -> None:
    result = await gw.data(
        "mutation($id: ID!) { recordContactTouch(input: {customerId: $id, channel: EMAIL}) "
        "{ position } }",
        {"id": people["spare"]},
        role="support",
        subject="susan@crm",
    )
    position = result["recordContactTouch"]["position"]
    meta = await to_thread.run_sync(gw.deps.app.crm_recorder.select_event_meta, [position])
    assert meta[position].actor == "susan@crm"
