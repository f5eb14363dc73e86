"""Team and department scoping over HTTP on the real servers (IDOR attempts).

East has teams A (ann, sales; sue, support; meg, manager) and B (bob); West has team C
(cat). Each scoped role tries, by every read and write, the customer of a team it does
not reach (West's, owned by cat) and must be refused (NOT_FOUND) or see nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from anyio import to_thread

from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness, error_codes, first_error
from tests.integration.support.organisation import define_organisation
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import done, file_complaint, mutate, new_customer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SCOPED = [("sales", "ann"), ("support", "sue"), ("manager", "meg")]
PROFILE = (
    "query($id: ID!) { customer(id: $id) { id name owner "
    "timeline(first: 5) { edges { node { kind } } } "
    "notes(first: 5) { edges { node { text } } } } }"
)
NODE = "query($id: ID!) { node(id: $id) { id } }"
LIST = "{ customers(first: 50) { totalCount edges { node { id owner } } } }"
QUEUE = "{ complaintQueue(first: 50) { edges { node { id customerId } } } }"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, limits=Limits(read_wait_seconds=1.0), team=None)
    yield harness
    await harness.aclose()
    servers.drop_database(url)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def org(gw: GatewayHarness) -> dict[str, str]:
    """The organisation and one customer per team, with a complaint, a note and a task."""
    await define_organisation(
        gw,
        {"East": ["A", "B"], "West": ["C"]},
        {"A": ["ann", "sue", "meg"], "B": ["bob"], "C": ["cat"]},
    )
    ids: dict[str, str] = {}
    for team, owner in (("A", "ann"), ("B", "bob"), ("C", "cat")):
        cid = await new_customer(gw, f"Customer of {team}", owner=owner)
        ids[team] = cid
        ids[f"complaint {team}"] = await file_complaint(gw, cid)
        await done(gw, "addNote", {"customerId": cid, "text": f"note on {team}"})
        due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        task = await done(
            gw,
            "scheduleTask",
            {"customerId": cid, "kind": "CALL_BACK", "title": "t", "assignee": owner, "dueAt": due},
            "task { id }",
        )
        ids[f"task {team}"] = task["task"]["id"]
    return ids


async def position(gw: GatewayHarness) -> int:
    return await to_thread.run_sync(lambda: gw.deps.app.recorder.max_notification_id() or 0)


@pytest.mark.parametrize(("role", "subject"), SCOPED)
async def test_another_teams_profile_timeline_and_notes_read_as_absent(
    gw: GatewayHarness, org: dict[str, str], role: str, subject: str
) -> None:
    data = await gw.data(PROFILE, {"id": org["C"]}, role=role, subject=subject)
    assert data["customer"] is None
    node = await gw.data(NODE, {"id": org["C"]}, role=role, subject=subject)
    assert node["node"] is None
    own = await gw.data(PROFILE, {"id": org["A"]}, role=role, subject=subject)
    assert own["customer"]["owner"] == "ann"
    assert own["customer"]["notes"]["edges"][0]["node"]["text"] == "note on A"
    assert own["customer"]["timeline"]["edges"]


@pytest.mark.parametrize(("role", "subject"), SCOPED)
async def test_lists_and_their_count_hold_only_the_scope(
    gw: GatewayHarness, org: dict[str, str], role: str, subject: str
) -> None:
    data = await gw.data(LIST, role=role, subject=subject)
    owners = {e["node"]["owner"] for e in data["customers"]["edges"]}
    expected = {"ann", "bob"} if role == "manager" else {"ann"}
    assert owners == expected
    assert data["customers"]["totalCount"] == len(data["customers"]["edges"])
    ids = {e["node"]["id"] for e in data["customers"]["edges"]}
    assert org["C"] not in ids


@pytest.mark.parametrize(("role", "subject"), SCOPED)
async def test_the_complaint_queue_leaves_other_teams_out(
    gw: GatewayHarness, org: dict[str, str], role: str, subject: str
) -> None:
    data = await gw.data(QUEUE, role=role, subject=subject)
    customers = {e["node"]["customerId"] for e in data["complaintQueue"]["edges"]}
    assert org["C"] not in customers and org["A"] in customers
    assert (org["B"] in customers) is (role == "manager")


@pytest.mark.parametrize(("role", "subject"), SCOPED)
@pytest.mark.parametrize(
    ("mutation", "input"),
    [
        ("addNote", {"customerId": "C", "text": "peeking"}),
        ("recordContactTouch", {"customerId": "C", "channel": "PHONE"}),
        ("fileComplaint", {"customerId": "C", "category": "x", "severity": "LOW"}),
        ("resolveComplaint", {"complaintId": "complaint C", "resolution": "closed by a stranger"}),
        ("completeTask", {"taskId": "task C"}),
    ],
)
async def test_changes_to_another_teams_customer_are_refused_before_recording(
    gw: GatewayHarness,
    org: dict[str, str],
    role: str,
    subject: str,
    mutation: str,
    input: dict[str, Any],
) -> None:
    given = {k: org[v] if k.endswith("Id") else v for k, v in input.items()}
    if mutation == "fileComplaint":
        given["description"] = "d"
    before = await position(gw)
    result = await mutate(gw, mutation, given, role=role, subject=subject)
    assert error_codes(result) == ["NOT_FOUND"], result
    assert first_error(result)["extensions"]["field"] in {"customerId", "complaintId", "taskId"}
    assert await position(gw) == before


async def test_sales_mutations_in_scope_and_sales_only_mutations_are_refused_outside(
    gw: GatewayHarness, org: dict[str, str]
) -> None:
    ok = await mutate(
        gw, "tagCustomer", {"customerId": org["A"], "add": ["vip"]}, role="sales", subject="ann"
    )
    assert "errors" not in ok, ok
    before = await position(gw)
    for name, given in (
        ("tagCustomer", {"customerId": org["B"], "add": ["x"]}),
        ("moveStage", {"customerId": org["C"], "to": "QUALIFIED"}),
        ("assignOwner", {"customerId": org["C"], "owner": "ann"}),
        ("changeContactDetails", {"customerId": org["C"], "company": "Mine now"}),
    ):
        result = await mutate(gw, name, given, role="sales", subject="ann")
        assert error_codes(result) == ["NOT_FOUND"], (name, result)
    handed = await mutate(
        gw, "assignOwner", {"customerId": org["A"], "owner": "cat"}, role="sales", subject="ann"
    )
    assert error_codes(handed) == ["RULE"] and first_error(handed)["extensions"]["field"] == "owner"
    foreign = await mutate(
        gw, "registerCustomer", {"name": "For cat", "owner": "cat"}, role="sales", subject="ann"
    )
    assert error_codes(foreign) == ["RULE"]
    assert await position(gw) == before


async def test_a_manager_reaches_the_department_and_changes_it(
    gw: GatewayHarness, org: dict[str, str]
) -> None:
    data = await gw.data(PROFILE, {"id": org["B"]}, role="manager", subject="meg")
    assert data["customer"]["owner"] == "bob"
    ok = await mutate(
        gw, "assignOwner", {"customerId": org["B"], "owner": "ann"}, role="manager", subject="meg"
    )
    assert "errors" not in ok, ok
    await done(gw, "assignOwner", {"customerId": org["B"], "owner": "bob"})


@pytest.mark.parametrize("role", ["admin", "compliance", "analyst"])
async def test_unscoped_roles_see_every_team(
    gw: GatewayHarness, org: dict[str, str], role: str
) -> None:
    data = await gw.data(LIST, role=role)
    ids = {e["node"]["id"] for e in data["customers"]["edges"]}
    assert {org["A"], org["B"], org["C"]} <= ids
    node = await gw.data(NODE, {"id": org["C"]}, role=role)
    assert node["node"] is not None


async def test_membership_comes_from_the_organisation_not_the_token(
    gw: GatewayHarness, org: dict[str, str]
) -> None:
    """A token claiming team C does not open team C; joining it (an event) does."""
    token = gw.token("sales", "dan", team="C", department="West")
    headers = {"Authorization": f"Bearer {token}"}
    response = await gw.post(NODE, {"id": org["C"]}, role=None, headers=headers)
    assert response.json()["data"]["node"] is None
    await done(gw, "addTeamMember", {"team": "C", "member": "dan"})
    response = await gw.post(NODE, {"id": org["C"]}, role=None, headers=headers)
    assert response.json()["data"]["node"] == {"id": org["C"]}
    await done(gw, "removeTeamMember", {"team": "C", "member": "dan"})
    response = await gw.post(NODE, {"id": org["C"]}, role=None, headers=headers)
    assert response.json()["data"]["node"] is None


@pytest.mark.parametrize("role", ["sales", "support", "manager", "analyst", "compliance"])
async def test_only_admin_defines_the_organisation(gw: GatewayHarness, role: str) -> None:
    result = await mutate(gw, "defineDepartment", {"department": "Rogue"}, role=role)
    assert error_codes(result) == ["FORBIDDEN"]


async def test_an_unowned_customer_is_outside_every_scope(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Nobody's", owner=None)
    for role, subject in SCOPED:
        data = await gw.data(NODE, {"id": cid}, role=role, subject=subject)
        assert data["node"] is None


@pytest.mark.parametrize(("role", "subject"), [("sales", "ann"), ("manager", "meg")])
async def test_a_reps_own_lead_that_no_rule_routes_is_theirs(
    gw: GatewayHarness, org: dict[str, str], role: str, subject: str
) -> None:
    """Unowned, a rep's new customer would leave their scope as it was recorded."""
    payload = await done(
        gw,
        "registerCustomer",
        {"name": f"Walk-in of {subject}"},
        "customer { id owner }",
        role=role,
        subject=subject,
    )
    assert payload["customer"]["owner"] == subject
    data = await gw.data(NODE, {"id": payload["customer"]["id"]}, role=role, subject=subject)
    assert data["node"] == {"id": payload["customer"]["id"]}


async def test_my_tasks_leave_out_a_task_on_another_teams_customer(
    gw: GatewayHarness, org: dict[str, str]
) -> None:
    """An admin may assign ann a task on West's customer: its title (personal free text)
    must not reach her through `myTasks` while the customer is outside her scope."""
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    stray = await done(
        gw,
        "scheduleTask",
        {
            "customerId": org["C"],
            "kind": "VISIT",
            "title": "West's secret",
            "assignee": "ann",
            "dueAt": due,
        },
        "task { id }",
    )
    tasks = await gw.data(
        "{ myTasks(first: 50) { edges { node { id customerId title } } } }",
        role="sales",
        subject="ann",
    )
    listed = {e["node"]["id"] for e in tasks["myTasks"]["edges"]}
    assert org["task A"] in listed
    assert stray["task"]["id"] not in listed
    assert org["C"] not in {e["node"]["customerId"] for e in tasks["myTasks"]["edges"]}


async def test_waiting_for_another_teams_customer_tells_nothing(
    gw: GatewayHarness, org: dict[str, str]
) -> None:
    """`atLeast` past the end times out; out of scope it answers null, not a TIMEOUT that
    would carry the customer's applied position."""
    query = "query($id: ID!, $p: Int) { customer(id: $id, atLeast: $p) { id } }"
    far = await position(gw) + 1000
    result = await gw.gql(query, {"id": org["C"], "p": far}, role="sales", subject="ann")
    assert result == {"data": {"customer": None}}
    own = await gw.gql(query, {"id": org["A"], "p": far}, role="sales", subject="ann")
    assert error_codes(own) == ["TIMEOUT"]


DUPLICATES = "{ duplicateCandidates(first: 50) { edges { node { survivorId duplicateId } } } }"


@pytest.mark.parametrize(("role", "subject"), [("sales", "ann"), ("manager", "meg")])
async def test_duplicate_pairs_of_another_team_are_not_listed(
    gw: GatewayHarness, org: dict[str, str], role: str, subject: str
) -> None:
    pairs = {}
    for team, owner, phone in (("A", "ann", "13900139001"), ("C", "cat", "13900139003")):
        first = await new_customer(gw, f"Twin {team}", owner=owner, phone=phone)
        second = await new_customer(gw, f"Other {team}", owner=owner, phone=f"+86 {phone}")
        pairs[team] = {first, second}
    data = await gw.data(DUPLICATES, role=role, subject=subject)
    listed = [
        {e["node"]["survivorId"], e["node"]["duplicateId"]}
        for e in data["duplicateCandidates"]["edges"]
    ]
    assert pairs["A"] in listed
    assert pairs["C"] not in listed
    everyone = await gw.data(DUPLICATES, role="admin")
    assert pairs["C"] in [
        {e["node"]["survivorId"], e["node"]["duplicateId"]}
        for e in everyone["duplicateCandidates"]["edges"]
    ]


async def test_a_scoped_caller_assigns_work_only_inside_its_scope(
    gw: GatewayHarness, org: dict[str, str]
) -> None:
    """A task or complaint given to someone outside the caller's teams would never reach
    them (their lists hold only their scope's customers): refused like an owner is."""
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    task = {"customerId": org["A"], "kind": "CALL_BACK", "title": "call", "dueAt": due}
    before = await position(gw)
    far = await mutate(gw, "scheduleTask", {**task, "assignee": "cat"}, role="sales", subject="ann")
    assert first_error(far)["extensions"] == {"code": "RULE", "field": "assignee"}
    complaint = {"complaintId": org["complaint A"], "assignee": "cat"}
    passed_on = await mutate(gw, "assignComplaint", complaint, role="support", subject="sue")
    assert first_error(passed_on)["extensions"] == {"code": "RULE", "field": "assignee"}
    assert await position(gw) == before, "nothing recorded"

    near = await mutate(
        gw, "scheduleTask", {**task, "assignee": "sue"}, role="sales", subject="ann"
    )
    assert "errors" not in near, near
    mine = await mutate(
        gw, "assignComplaint", {**complaint, "assignee": "meg"}, role="support", subject="sue"
    )
    assert "errors" not in mine, mine


async def test_an_owner_inside_the_scope_is_judged_trimmed(
    gw: GatewayHarness, org: dict[str, str]
) -> None:
    """The owner is recorded trimmed, so " sue " is sue, a teammate: not refused as
    outside the scope (an admin's " sue " is recorded as sue too)."""
    registered = await mutate(
        gw,
        "registerCustomer",
        {"name": "Padded owner", "owner": " sue "},
        "customer { id owner }",
        role="sales",
        subject="ann",
    )
    assert "errors" not in registered, registered
    customer = registered["data"]["registerCustomer"]["customer"]
    assert customer["owner"] == "sue"
    handed = await mutate(
        gw,
        "assignOwner",
        {"customerId": customer["id"], "owner": " meg "},
        "customer { owner }",
        role="sales",
        subject="ann",
    )
    assert "errors" not in handed, handed
    assert handed["data"]["assignOwner"]["customer"]["owner"] == "meg"
    far = await mutate(
        gw,
        "assignOwner",
        {"customerId": customer["id"], "owner": " cat "},
        role="sales",
        subject="ann",
    )
    assert first_error(far)["extensions"] == {"code": "RULE", "field": "owner"}


async def test_a_retried_key_does_not_read_a_customer_that_left_the_scope(
    gw: GatewayHarness, org: dict[str, str]
) -> None:
    """A retry with an idempotency key returns the first result, and its payload reads the
    customer as it is now: after the customer moved to another team, replaying ann's key
    must not hand her the profile (nor what was written on it since)."""
    cid = await new_customer(gw, "Moving customer", owner="ann")
    retry = {"customerId": cid, "add": ["kept"], "idempotencyKey": "ann-tag-moving"}
    select = "customer { id name address owner }"
    first = await done(gw, "tagCustomer", retry, select, role="sales", subject="ann")
    assert first["customer"]["owner"] == "ann"
    await done(gw, "assignOwner", {"customerId": cid, "owner": "cat"})
    await done(gw, "changeContactDetails", {"customerId": cid, "address": "West secret 1"})

    again = await mutate(gw, "tagCustomer", retry, select, role="sales", subject="ann")
    assert error_codes(again) == ["NOT_FOUND"], again
    assert "West secret" not in str(again)
    # Still in scope, the same retry answers the first result as before.
    inside = {"customerId": org["A"], "add": ["kept"], "idempotencyKey": "ann-tag-inside"}
    once = await done(gw, "tagCustomer", inside, "position", role="sales", subject="ann")
    twice = await done(gw, "tagCustomer", inside, "position", role="sales", subject="ann")
    assert once == twice
