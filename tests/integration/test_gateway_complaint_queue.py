"""The complaint queue across customers over HTTP: longest waiting first, filters by
status, severity, assignee and age, keyset pages, roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from anyio import to_thread

from gateway.deps import Limits
from projections.schema import reset_projection
from tests.integration.support.gateway import GatewayHarness, ReadModelSync, first_error
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import NOW, done, file_complaint, new_customer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

QUEUE = """query($status: ComplaintStatus, $severity: Severity, $assignee: String,
  $older: Int, $unassigned: Boolean = false, $first: Int, $after: String) {
  complaintQueue(status: $status, severity: $severity, assignee: $assignee,
    olderThanHours: $older, unassigned: $unassigned, first: $first, after: $after) {
    edges { cursor node { id customerId severity status assignee filedAt slaAgeHours
      description } }
    pageInfo { hasNextPage hasPreviousPage endCursor } } }"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, clock=lambda: NOW, limits=Limits(read_wait_seconds=1.0))
    yield harness
    await harness.aclose()
    servers.drop_database(url)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def complaints(gw: GatewayHarness) -> dict[str, str]:
    """Five complaints of two customers, filed at hours 10..50 of T0, in varied states.

    NOW is T0 + 60 days (1440 h), so their SLA ages are 1430, 1420, … hours.
    """
    ann = await new_customer(gw, "Ann Queue")
    bo = await new_customer(gw, "Bo Queue")
    ids = {
        "a": await file_complaint(gw, ann, "LOW", hours=10),
        "b": await file_complaint(gw, bo, "HIGH", hours=20),
        "c": await file_complaint(gw, ann, "CRITICAL", hours=30),  # escalated on filing
        "d": await file_complaint(gw, bo, "HIGH", hours=40),
        "e": await file_complaint(gw, ann, "MEDIUM", hours=1400),  # 40 hours old
    }
    await done(gw, "assignComplaint", {"complaintId": ids["b"], "assignee": "susan"})
    await done(gw, "assignComplaint", {"complaintId": ids["c"], "assignee": "susan"})
    await done(gw, "assignComplaint", {"complaintId": ids["d"], "assignee": "li"})
    await done(gw, "resolveComplaint", {"complaintId": ids["d"], "resolution": "fixed"})
    return ids


async def queue(gw: GatewayHarness, role: str = "support", **args: Any) -> Any:
    return (await gw.data(QUEUE, args, role=role))["complaintQueue"]


def order(page: Any, ids: dict[str, str]) -> list[str]:
    names = {v: k for k, v in ids.items()}
    return [names[e["node"]["id"]] for e in page["edges"]]


async def test_unresolved_ones_come_longest_waiting_first(
    gw: GatewayHarness, complaints: dict[str, str]
) -> None:
    page = await queue(gw)
    assert order(page, complaints) == ["a", "b", "c", "e"], "resolved d is left out"
    ages = [e["node"]["slaAgeHours"] for e in page["edges"]]
    assert ages == [1430.0, 1420.0, 1410.0, 40.0]
    assert page["edges"][0]["node"]["description"] == "the parcel was late"


async def test_filters(gw: GatewayHarness, complaints: dict[str, str]) -> None:
    assert order(await queue(gw, status="ESCALATED"), complaints) == ["c"]
    assert order(await queue(gw, status="RESOLVED"), complaints) == ["d"]
    assert order(await queue(gw, severity="HIGH"), complaints) == ["b"]
    assert order(await queue(gw, assignee="susan"), complaints) == ["b", "c"]
    assert order(await queue(gw, unassigned=True), complaints) == ["a", "e"]
    assert order(await queue(gw, older=100), complaints) == ["a", "b", "c"]
    assert order(await queue(gw, older=100, assignee="susan", status="OPEN"), complaints) == ["b"]


async def test_keyset_pages(gw: GatewayHarness, complaints: dict[str, str]) -> None:
    first = await queue(gw, first=3)
    assert order(first, complaints) == ["a", "b", "c"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await queue(gw, first=3, after=first["pageInfo"]["endCursor"])
    assert order(rest, complaints) == ["e"]
    assert rest["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "endCursor": rest["edges"][0]["cursor"],
    }


async def test_roles_and_bad_arguments(gw: GatewayHarness, complaints: dict[str, str]) -> None:
    sales = await queue(gw, role="sales")
    assert len(sales["edges"]) == 4
    analyst = await gw.gql(QUEUE, {}, role="analyst")
    assert first_error(analyst)["extensions"]["code"] == "FORBIDDEN"
    for older in (-1, 17_758_871):  # the second once overflowed the date: INTERNAL
        out_of_range = await gw.gql(QUEUE, {"older": older})
        error = first_error(out_of_range)
        assert error["extensions"] == {"code": "VALIDATION", "field": "olderThanHours"}
        assert "from 0 to 876000" in error["message"]
    assert len((await queue(gw, older=876_000))["edges"]) == 0
    cursor = await gw.gql(QUEUE, {"after": "bad"})
    assert first_error(cursor)["extensions"] == {"code": "VALIDATION", "field": "after"}


async def test_a_rebuilt_complaints_projection_holds_the_same_queue(
    gw: GatewayHarness, complaints: dict[str, str]
) -> None:
    before = await queue(gw, status=None)
    with psycopg.connect(gw.database_url, autocommit=True) as conn:
        reset_projection(conn, "complaints")
    assert (await queue(gw))["edges"] == [], "the read model was emptied"
    replay = ReadModelSync(gw.deps.app, gw.database_url, clock=lambda: NOW)
    try:
        await to_thread.run_sync(replay)
    finally:
        replay.close()
    after = await queue(gw, status=None)
    assert after == before
    assert [e["node"]["assignee"] for e in after["edges"]] == [None, "susan", "susan", None]


async def test_has_previous_page_says_whether_the_filter_matches_before_the_cursor(
    gw: GatewayHarness, complaints: dict[str, str]
) -> None:
    everything = await queue(gw, first=2)
    cursor = everything["edges"][0]["cursor"]  # complaint a, the oldest
    susan = await queue(gw, assignee="susan", after=cursor)
    assert order(susan, complaints) == ["b", "c"]
    assert susan["pageInfo"]["hasPreviousPage"] is False, "a is not susan's"
    later = await queue(gw, after=cursor)
    assert later["pageInfo"]["hasPreviousPage"] is True
