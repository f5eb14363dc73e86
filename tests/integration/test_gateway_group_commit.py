"""Mutations behind the group committer, as `crm up` serves them: handed to it from the
event loop and awaited there (`gateway.schema.mutation._record`), no worker thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio

from commands.group_commit import GroupCommitter
from commands.service import CommandService
from tests.integration.support.gateway import GatewayHarness, error_codes, first_error
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

REGISTER = (
    "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { position version } }"
)
TOUCH = (
    "mutation($i: RecordContactTouchInput!) { recordContactTouch(input: $i) { position version } }"
)


@pytest_asyncio.fixture(loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    # No synchronous read-model hook: the payload is the committer's result alone.
    harness = GatewayHarness.start(url, sync_writes=False)
    service = harness.deps.service
    assert isinstance(service, CommandService)
    committer = GroupCommitter(service)
    harness.deps.service = committer
    try:
        yield harness
    finally:
        committer.close()
        await harness.aclose()
        servers.drop_database(url)


def committer_of(gw: GatewayHarness) -> GroupCommitter:
    committer = gw.deps.service
    assert isinstance(committer, GroupCommitter)
    return committer


async def register(gw: GatewayHarness, name: str, email: str | None = None) -> dict[str, Any]:
    result = await gw.gql(REGISTER, {"i": {"name": name, "email": email}})
    return result


async def touch(gw: GatewayHarness, customer_id: str) -> dict[str, Any]:
    return await gw.gql(
        TOUCH, {"i": {"customerId": customer_id, "channel": "PHONE", "direction": "OUTBOUND"}}
    )


async def new_id(gw: GatewayHarness, name: str) -> str:
    customer_id = str(uuid4())  # the client's id: no read model is waited for
    result = await gw.gql(REGISTER, {"i": {"name": name, "customerId": customer_id}})
    assert "errors" not in result, result
    return customer_id


async def test_concurrent_mutations_share_rounds_and_each_gets_its_own_answer(
    gw: GatewayHarness,
) -> None:
    customers = [await new_id(gw, f"客户{n}") for n in range(4)]
    before = committer_of(gw).stats.rounds
    answers = await asyncio.gather(*(touch(gw, c) for c in customers for _ in range(5)))
    assert all("errors" not in a for a in answers), answers
    payloads = [a["data"]["recordContactTouch"] for a in answers]
    assert len({p["position"] for p in payloads}) == 20  # each its own event
    for n, customer in enumerate(customers):
        versions = sorted(p["version"] for p in payloads[n * 5 : n * 5 + 5])
        assert versions == [2, 3, 4, 5, 6], customer  # registered at 1, no update lost
    assert committer_of(gw).stats.rounds - before < 20  # they shared transactions


async def test_a_refused_command_answers_as_the_service_would(gw: GatewayHarness) -> None:
    assert "errors" not in await register(gw, "Ada", "ada@example.com")
    refused = await register(gw, "Eve", "ada@example.com")
    assert error_codes(refused) == ["CONFLICT"]
    assert first_error(refused)["extensions"]["field"] == "email"
    assert refused["data"] is None


async def test_a_request_cancelled_mid_write_leaves_the_write_and_its_round_whole(
    gw: GatewayHarness,
) -> None:
    """A client gone while its command waits for a round: the command is still
    recorded, and the others of its round get their answers."""
    first, gone, other = [await new_id(gw, name) for name in ("Bo", "Cy", "Di")]
    committer = committer_of(gw)
    entered, release = threading.Event(), threading.Event()
    handle_many = committer.service.handle_many

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(10)  # the first round waits; the next ones pass
        return handle_many(*args, **kwargs)

    committer.service.handle_many = held  # type: ignore[method-assign]
    try:
        busy = asyncio.ensure_future(touch(gw, first))
        assert await asyncio.to_thread(entered.wait, 10)  # the committer is busy
        cancelled = asyncio.ensure_future(touch(gw, gone))
        waiting = asyncio.ensure_future(touch(gw, other))
        while len(committer._queue) < 2:  # both queued for the next round
            await asyncio.sleep(0.005)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        release.set()
        answers = await asyncio.gather(busy, waiting)
    finally:
        release.set()
        committer.service.handle_many = handle_many  # type: ignore[method-assign]
    assert all("errors" not in a for a in answers), answers
    after = await touch(gw, gone)
    assert "errors" not in after, after
    assert after["data"]["recordContactTouch"]["version"] == 3  # the cancelled one is in
