"""Idempotency keys and mutation outcomes through the GraphQL HTTP app, on the real servers.

A key is the caller's own (another subject's same key is another key), bound to the
request it was first used for (another payload is CONFLICT on idempotencyKey, showing nothing
of the first result), and the way to learn the outcome of a write whose answer was lost.
Each mutation field is its own command: ``extensions.mutations`` says which were done.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import psycopg
import pytest
from anyio import to_thread

from commands.messages import CommandContext, CommandResult, RecordContactTouch
from tests.integration.support.gateway import GatewayHarness, error_codes, first_error

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

REGISTER = (
    "mutation($input: RegisterCustomerInput!) "
    "{ registerCustomer(input: $input) { position version customer { id name } } }"
)
MOVE = (
    "mutation($input: MoveStageInput!) "
    "{ moveStage(input: $input) { position version customer { id name stage } } }"
)
TOUCH = (
    "mutation($input: RecordContactTouchInput!) "
    "{ recordContactTouch(input: $input) { position version customer { id } } }"
)
MISMATCH = {"code": "CONFLICT", "field": "idempotencyKey"}


async def max_position(gw: GatewayHarness) -> int:
    return await to_thread.run_sync(lambda: gw.deps.app.recorder.max_notification_id() or 0)


async def event_count(gw: GatewayHarness) -> int:
    """Events stored (a rolled-back racer burns a position, so max positions may skip)."""

    def count() -> int:
        with psycopg.connect(gw.database_url) as conn:
            row = conn.execute("SELECT count(*) FROM stored_events").fetchone()
        assert row is not None
        return int(row[0])

    return await to_thread.run_sync(count)


async def register(gw: GatewayHarness, name: str) -> str:
    data = await gw.data(REGISTER, {"input": {"name": name}})
    return str(data["registerCustomer"]["customer"]["id"])


async def test_the_same_key_with_another_customer_shows_nothing_of_the_first(
    gw: GatewayHarness,
) -> None:
    private = await register(gw, "Private Person")
    other = await register(gw, "Other Person")
    first = await gw.data(
        MOVE, {"input": {"customerId": private, "to": "CONTACTED", "idempotencyKey": "mv-1"}}
    )
    assert first["moveStage"]["customer"]["name"] == "Private Person"
    before = await max_position(gw)
    for changed in (
        {"customerId": other, "to": "CONTACTED", "idempotencyKey": "mv-1"},
        {"customerId": private, "to": "QUALIFIED", "idempotencyKey": "mv-1"},
    ):
        answer = await gw.gql(MOVE, {"input": changed})
        assert first_error(answer)["extensions"] == MISMATCH
        assert answer["data"] is None
        text = json.dumps(answer)
        assert private not in text and "Private Person" not in text
    assert await max_position(gw) == before


async def test_the_same_key_of_another_subject_is_independent(gw: GatewayHarness) -> None:
    input = {"name": "Same Key", "idempotencyKey": "import-7"}
    one = await gw.data(REGISTER, {"input": input}, subject="clerk-1")
    two = await gw.data(REGISTER, {"input": input}, subject="clerk-2")
    assert one["registerCustomer"]["customer"]["id"] != two["registerCustomer"]["customer"]["id"]
    again = await gw.data(REGISTER, {"input": input}, subject="clerk-1")
    assert again == one


async def test_a_blank_or_huge_key_is_refused_and_writes_nothing(gw: GatewayHarness) -> None:
    """A form sending "" by default had its second submit refused as a reused key."""
    cid = await register(gw, "Blank Key")
    before = await event_count(gw)
    for key in ("", "   ", "k" * 256):
        touch = {"customerId": cid, "channel": "PHONE", "idempotencyKey": key}
        answer = await gw.gql(TOUCH, {"input": touch})
        assert first_error(answer)["extensions"] == {
            "code": "VALIDATION",
            "field": "idempotencyKey",
        }, key[:5]
    assert await event_count(gw) == before
    longest = {"customerId": cid, "channel": "PHONE", "idempotencyKey": "k" * 255}
    assert (await gw.data(TOUCH, {"input": longest}))["recordContactTouch"]["position"]


async def test_concurrent_retries_with_one_key_record_once_per_subject(
    gw: GatewayHarness,
) -> None:
    before = await event_count(gw)
    input = {"name": "Many Tries", "idempotencyKey": "burst-1"}
    subjects = ["clerk-a", "clerk-b"] * 3
    answers = await asyncio.gather(
        *(gw.data(REGISTER, {"input": input}, subject=s) for s in subjects)
    )
    by_subject = {
        s: [a for a, t in zip(answers, subjects, strict=True) if t == s] for s in subjects
    }
    for same in by_subject.values():
        assert all(a == same[0] for a in same), same
    assert by_subject["clerk-a"][0] != by_subject["clerk-b"][0]
    assert await event_count(gw) == before + 2


async def test_a_write_whose_answer_was_lost_is_learnt_by_retrying(gw: GatewayHarness) -> None:
    cid = await register(gw, "Lost Answer")
    committed = await to_thread.run_sync(
        gw.deps.service.handle,
        RecordContactTouch(
            customer_id=UUID(cid), channel="PHONE", summary="called", idempotency_key="call-9"
        ),
        CommandContext(actor="admin-user"),  # the subject of the harness's admin token
    )
    assert isinstance(committed, CommandResult)
    before = await max_position(gw)
    input = {"customerId": cid, "channel": "PHONE", "summary": "called", "idempotencyKey": "call-9"}
    retried = (await gw.data(TOUCH, {"input": input}))["recordContactTouch"]
    assert (retried["position"], retried["version"]) == (committed.position, committed.version)
    changed = await gw.gql(TOUCH, {"input": {**input, "summary": "called twice"}})
    assert first_error(changed)["extensions"] == MISMATCH  # never a second write
    assert await max_position(gw) == before


async def test_an_internal_error_after_the_commit_still_reports_the_write(
    gw: GatewayHarness,
) -> None:
    cid = await register(gw, "After Commit")
    sync = gw.deps.after_write

    def fails(_result: CommandResult) -> None:
        raise RuntimeError("connection lost after the commit")

    input = {"customerId": cid, "channel": "EMAIL", "idempotencyKey": "mail-3"}
    gw.deps.after_write = fails
    try:
        lost = await gw.gql(TOUCH, {"input": input})
    finally:
        gw.deps.after_write = sync
    assert error_codes(lost) == ["INTERNAL"] and lost["data"] is None
    done = lost["extensions"]["mutations"]["recordContactTouch"]
    assert done["status"] == "DONE" and done["customerId"] == cid
    retried = (await gw.data(TOUCH, {"input": input}))["recordContactTouch"]
    assert (retried["position"], retried["version"]) == (done["position"], done["version"])
    assert await max_position(gw) == done["position"]


TWO_FIELDS = """
mutation($id: ID!, $to: PipelineStage!) {
  a: tagCustomer(input: {customerId: $id, add: ["first"], idempotencyKey: "two-a"}) { position }
  b: moveStage(input: {customerId: $id, to: $to, idempotencyKey: "two-b"}) { position }
  c: tagCustomer(input: {customerId: $id, add: ["third"]}) { position }
}
"""


async def test_each_mutation_field_is_its_own_command(gw: GatewayHarness) -> None:
    cid = await register(gw, "Two Fields")
    before = await max_position(gw)
    answer = await gw.gql(TWO_FIELDS, {"id": cid, "to": "LEAD"})  # b: already at LEAD
    assert answer["data"] is None  # the contract's payloads are non-null: GraphQL nulls all
    assert [(e["path"], e["extensions"]["code"]) for e in answer["errors"]] == [(["b"], "RULE")]
    outcomes: dict[str, Any] = answer["extensions"]["mutations"]
    assert outcomes["b"] == {"status": "REFUSED", "code": "RULE"}
    assert outcomes["a"]["status"] == "DONE" and outcomes["a"]["position"] == before + 1
    assert "c" not in outcomes  # not run after the failing field
    assert await max_position(gw) == before + 1
    tags = await gw.data("query($id: ID!) { customer(id: $id) { tags } }", {"id": cid})
    assert tags["customer"]["tags"] == ["first"]

    fixed = await gw.data(TWO_FIELDS, {"id": cid, "to": "CONTACTED"})
    assert fixed["a"]["position"] == outcomes["a"]["position"]  # replayed, not recorded again
    assert fixed["b"]["position"] == before + 2 and fixed["c"]["position"] == before + 3
