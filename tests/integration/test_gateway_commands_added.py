"""The mutations added for issue 15 over HTTP on the real servers: assignOwner,
recordNeed, changeConsent, answerSurvey, escalateComplaint, assignComplaint. Each: the
happy path (payload and read model), one coded error naming its field, and a role
that is refused with nothing recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from anyio import to_thread

from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import (
    NOW,
    at,
    done,
    file_complaint,
    mutate,
    new_customer,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, clock=lambda: NOW, limits=Limits(read_wait_seconds=1.0))
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def max_position(gw: GatewayHarness) -> int:
    return await to_thread.run_sync(lambda: gw.deps.app.recorder.max_notification_id() or 0)


def extensions(result: dict[str, object]) -> dict[str, object]:
    errors = result.get("errors")
    assert isinstance(errors, list) and errors, result
    found: dict[str, object] = errors[0]["extensions"]
    return found


async def test_assign_owner_hands_over_with_a_reason(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Owner Case", owner="bob")
    payload = await done(
        gw,
        "assignOwner",
        {"customerId": cid, "owner": "amy", "reason": "territory split", "occurredAt": at(2)},
        "position version customer { owner }",
        role="sales",
    )
    assert payload["customer"]["owner"] == "amy" and payload["version"] == 2
    same = await done(gw, "assignOwner", {"customerId": cid, "owner": "amy"}, "version")
    assert same["version"] == 2, "the same owner again records nothing"
    blank = await mutate(gw, "assignOwner", {"customerId": cid, "owner": " "})
    assert extensions(blank) == {"code": "VALIDATION", "field": "owner"}
    before = await max_position(gw)
    refused = await mutate(gw, "assignOwner", {"customerId": cid, "owner": "x"}, role="support")
    assert extensions(refused)["code"] == "FORBIDDEN" and await max_position(gw) == before


async def test_record_need_shows_as_an_open_need(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Need Case")
    payload = await done(
        gw,
        "recordNeed",
        {
            "customerId": cid,
            "description": "wants 20 standing desks",
            "productInterest": "DESK-STAND",
            "needId": "need-1",
            "occurredAt": at(3),
        },
        "customer { openNeeds { needId description productInterest recordedAt } }",
        role="sales",
    )
    assert payload["customer"]["openNeeds"] == [
        {
            "needId": "need-1",
            "description": "wants 20 standing desks",
            "productInterest": "DESK-STAND",
            "recordedAt": at(3),
        }
    ]
    empty = await mutate(gw, "recordNeed", {"customerId": cid, "description": ""})
    assert extensions(empty) == {"code": "VALIDATION", "field": "description"}
    before = await max_position(gw)
    refused = await mutate(
        gw, "recordNeed", {"customerId": cid, "description": "x"}, role="analyst"
    )
    assert extensions(refused)["code"] == "FORBIDDEN" and await max_position(gw) == before


async def test_change_consent_keeps_the_current_decision(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Consent Case")
    select = "customer { consents { purpose channel granted changedAt } }"
    base = {"customerId": cid, "purpose": "marketing", "channel": "EMAIL"}
    await done(gw, "changeConsent", {**base, "granted": True, "occurredAt": at(1)}, select)
    payload = await done(
        gw, "changeConsent", {**base, "granted": False, "occurredAt": at(5)}, select, role="sales"
    )
    assert payload["customer"]["consents"] == [
        {"purpose": "marketing", "channel": "EMAIL", "granted": False, "changedAt": at(5)}
    ]
    bad = await mutate(gw, "changeConsent", {**base, "purpose": "x y!", "granted": True})
    assert extensions(bad) == {"code": "VALIDATION", "field": "purpose"}
    before = await max_position(gw)
    refused = await mutate(gw, "changeConsent", {**base, "granted": True}, role="support")
    assert extensions(refused)["code"] == "FORBIDDEN" and await max_position(gw) == before


async def test_answer_survey_shows_the_latest_scores(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Survey Case")
    select = "customer { latestSurveys { surveyId score comment answeredAt } }"
    await done(
        gw,
        "answerSurvey",
        {"customerId": cid, "surveyId": "nps-1", "score": 3, "occurredAt": at(1)},
        select,
    )
    payload = await done(
        gw,
        "answerSurvey",
        {
            "customerId": cid,
            "surveyId": "nps-2",
            "score": 5,
            "comment": "great",
            "occurredAt": at(2),
        },
        select,
        role="sales",
    )
    assert payload["customer"]["latestSurveys"] == [
        {"surveyId": "nps-2", "score": 5, "comment": "great", "answeredAt": at(2)},
        {"surveyId": "nps-1", "score": 3, "comment": None, "answeredAt": at(1)},
    ]
    bad = await mutate(gw, "answerSurvey", {"customerId": cid, "surveyId": "s", "score": 6})
    assert extensions(bad) == {"code": "VALIDATION", "field": "score"}
    before = await max_position(gw)
    refused = await mutate(
        gw, "answerSurvey", {"customerId": cid, "surveyId": "s", "score": 4}, role="support"
    )
    assert extensions(refused)["code"] == "FORBIDDEN" and await max_position(gw) == before


async def test_escalate_complaint_only_once(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Escalation Case")
    complaint = await file_complaint(gw, cid)
    payload = await done(
        gw,
        "escalateComplaint",
        {"complaintId": complaint, "reason": "no answer in 2 days", "occurredAt": at(30)},
        "complaint { status escalatedAt escalationReason }",
        role="support",
    )
    assert payload["complaint"] == {
        "status": "ESCALATED",
        "escalatedAt": at(30),
        "escalationReason": "no answer in 2 days",
    }
    again = await mutate(gw, "escalateComplaint", {"complaintId": complaint})
    assert extensions(again)["code"] == "RULE"
    before = await max_position(gw)
    refused = await mutate(gw, "escalateComplaint", {"complaintId": complaint}, role="analyst")
    assert extensions(refused)["code"] == "FORBIDDEN" and await max_position(gw) == before


async def test_assign_complaint_and_the_resolved_rule(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Assignment Case")
    complaint = await file_complaint(gw, cid)
    payload = await done(
        gw,
        "assignComplaint",
        {
            "complaintId": complaint,
            "assignee": "susan",
            "occurredAt": at(4),
            "clientMutationId": "m-1",
        },
        "clientMutationId complaint { assignee assignedAt assignedBy status }",
        role="support",
        subject="lead@crm",
    )
    assert payload["clientMutationId"] == "m-1"
    assert payload["complaint"] == {
        "assignee": "susan",
        "assignedAt": at(4),
        "assignedBy": "lead@crm",
        "status": "OPEN",
    }
    await done(gw, "resolveComplaint", {"complaintId": complaint, "resolution": "refunded"})
    before = await max_position(gw)
    late = await mutate(gw, "assignComplaint", {"complaintId": complaint, "assignee": "li"})
    assert extensions(late) == {"code": "RULE", "field": "complaintId"}
    assert await max_position(gw) == before, "a refused assignment records nothing"
    missing = await mutate(
        gw,
        "assignComplaint",
        {"complaintId": "00000000-0000-0000-0000-000000000001", "assignee": "li"},
    )
    assert extensions(missing)["code"] == "NOT_FOUND"
    refused = await mutate(
        gw, "assignComplaint", {"complaintId": complaint, "assignee": "x"}, role="analyst"
    )
    assert extensions(refused)["code"] == "FORBIDDEN" and await max_position(gw) == before
