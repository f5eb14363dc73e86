"""Notes on a customer over HTTP on the real servers: `addNote` records the caller as
the author, `customer { notes }` pages them newest first, the timeline shows them as
NOTE entries, the text follows the role and is gone after `forgetCustomer`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from anyio import to_thread

from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness, error_codes, first_error
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import NOW, at, done, mutate, new_customer, timeline

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOTES = (
    "query($id: ID!, $first: Int, $after: String) { customer(id: $id) { "
    "notes(first: $first, after: $after) { edges { cursor node { noteId author at text "
    "position } } pageInfo { hasNextPage endCursor } } } }"
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, clock=lambda: NOW, limits=Limits(read_wait_seconds=1.0))
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def max_position(gw: GatewayHarness) -> int:
    return await to_thread.run_sync(lambda: gw.deps.app.recorder.max_notification_id() or 0)


async def notes(gw: GatewayHarness, cid: str, role: str = "admin", **args: Any) -> Any:
    data = await gw.data(NOTES, {"id": cid, **args}, role=role)
    return data["customer"]["notes"]


async def add_note(gw: GatewayHarness, cid: str, text: str, hours: float, subject: str) -> None:
    await done(
        gw,
        "addNote",
        {"customerId": cid, "text": text, "occurredAt": at(hours)},
        role="sales",
        subject=subject,
    )


async def test_notes_record_their_author_and_page_newest_first(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Note Case")
    await add_note(gw, cid, "asked for a price list", 1, "amy")
    await add_note(gw, cid, "call back on Monday\nabout the discount", 2, "bob")
    first = await notes(gw, cid, first=1)
    node = first["edges"][0]["node"]
    assert (node["author"], node["text"], node["at"]) == (
        "bob",
        "call back on Monday\nabout the discount",
        at(2),
    )
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await notes(gw, cid, first=5, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["author"] for e in rest["edges"]] == ["amy"]
    assert rest["pageInfo"]["hasNextPage"] is False
    entries = await timeline(gw, cid, types=["NOTE"])
    assert [e["node"]["kind"] for e in entries["edges"]] == ["NOTE", "NOTE"]
    assert entries["edges"][0]["node"]["actor"] == "bob"
    assert entries["edges"][0]["node"]["summary"] == "Note by bob"


async def test_a_note_on_the_timeline_has_its_text(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Timeline Note")
    await add_note(gw, cid, "likes the blue model", 1, "amy")
    data = await gw.data(
        "query($id: ID!) { customer(id: $id) { timeline(types: [NOTE]) { edges { node { "
        "kind ... on NoteEntry { noteId text } } } } } }",
        {"id": cid},
    )
    (edge,) = data["customer"]["timeline"]["edges"]
    assert edge["node"]["kind"] == "NOTE" and edge["node"]["text"] == "likes the blue model"


async def test_bad_notes_are_refused_with_the_field_and_nothing_recorded(
    gw: GatewayHarness,
) -> None:
    cid = await new_customer(gw, "Bad Note")
    before = await max_position(gw)
    empty = await mutate(gw, "addNote", {"customerId": cid, "text": "  "})
    assert first_error(empty)["extensions"] == {"code": "VALIDATION", "field": "text"}
    long = await mutate(gw, "addNote", {"customerId": cid, "text": "x" * 5001})
    assert first_error(long)["extensions"] == {"code": "VALIDATION", "field": "text"}
    assert await max_position(gw) == before
    await done(gw, "addNote", {"customerId": cid, "text": "one", "noteId": "n-1"})
    again = await mutate(gw, "addNote", {"customerId": cid, "text": "two", "noteId": "n-1"})
    assert first_error(again)["extensions"] == {"code": "RULE", "field": "noteId"}


async def test_roles_writing_and_reading_notes(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Role Note")
    await done(gw, "addNote", {"customerId": cid, "text": "support wrote this"}, role="support")
    before = await max_position(gw)
    for role in ("analyst", "compliance"):
        refused = await mutate(gw, "addNote", {"customerId": cid, "text": "x"}, role=role)
        assert error_codes(refused) == ["FORBIDDEN"], role
    assert await max_position(gw) == before
    read = await gw.gql(NOTES, {"id": cid}, role="analyst")
    assert error_codes(read) == ["FORBIDDEN"]
    seen = await notes(gw, cid, role="compliance")
    assert seen["edges"][0]["node"]["text"] == "support wrote this"


async def test_forgetting_erases_the_text_and_keeps_the_author(gw: GatewayHarness) -> None:
    cid = await new_customer(gw, "Forget Note")
    await add_note(gw, cid, "lives at 7 Secret Road", 1, "amy")
    await done(gw, "forgetCustomer", {"customerId": cid, "reason": "request"})
    (edge,) = (await notes(gw, cid))["edges"]
    assert edge["node"]["author"] == "amy" and edge["node"]["text"] is None
    late = await mutate(gw, "addNote", {"customerId": cid, "text": "again"})
    assert first_error(late)["extensions"]["code"] == "RULE"
