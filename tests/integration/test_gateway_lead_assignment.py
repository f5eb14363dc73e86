"""Automatic lead assignment over HTTP on the real servers: a lead registered without an
owner gets one by the first matching rule, in the registration's transaction, recorded
as an OWNER_CHANGE that names the rule; capacity skips a full rep, also when many leads
are registered at once; a reassignment keeps the history and frees the place."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.organisation import define_organisation
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import done, new_customer, timeline

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

OWNER = "query($id: ID!) { customer(id: $id) { owner } }"
OWNER_CHANGES = (
    "query($id: ID!) { customer(id: $id) { timeline(first: 10, types: [OWNER_CHANGE]) { "
    "edges { node { actor summary ... on OwnerChangeEntry { owner previousOwner rule } } } } } }"
)


@pytest_asyncio.fixture(loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    """A fresh database per test: the rules' round-robin state is the whole point."""
    url = servers.new_database()
    harness = GatewayHarness.start(url, limits=Limits(read_wait_seconds=1.0), team=None)
    await define_organisation(
        harness, {"East": ["A", "Shanghai desk"]}, {"A": ["ann", "bob"], "Shanghai desk": ["sha"]}
    )
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def lead(gw: GatewayHarness, name: str, **fields: Any) -> str:
    """A customer registered without an owner: the rules choose one."""
    return await new_customer(gw, name, owner=None, **fields)


async def owner_of(gw: GatewayHarness, cid: str) -> str | None:
    owner: str | None = (await gw.data(OWNER, {"id": cid}))["customer"]["owner"]
    return owner


async def owner_changes(gw: GatewayHarness, cid: str) -> list[dict[str, Any]]:
    data = await gw.data(OWNER_CHANGES, {"id": cid})
    return [e["node"] for e in data["customer"]["timeline"]["edges"]]


async def test_round_robin_assigns_alternately_and_names_the_rule(gw: GatewayHarness) -> None:
    await done(gw, "defineAssignmentRule", {"rule": "A round-robin", "team": "A"})
    leads = [await lead(gw, f"Lead {n}") for n in range(4)]
    assert [await owner_of(gw, cid) for cid in leads] == ["ann", "bob", "ann", "bob"]
    [change] = await owner_changes(gw, leads[0])
    assert change["rule"] == "A round-robin" and change["owner"] == "ann"
    assert change["previousOwner"] is None and change["actor"] == "admin-user"
    assert "rule A round-robin" in change["summary"]
    given = await new_customer(gw, "Chosen", owner="cat")
    assert await owner_of(gw, given) == "cat" and await owner_changes(gw, given) == []


async def test_region_rules_match_first(gw: GatewayHarness) -> None:
    await done(gw, "defineAssignmentRule", {"rule": "A round-robin", "team": "A"})
    await done(
        gw,
        "defineAssignmentRule",
        {"rule": "Shanghai leads", "team": "Shanghai desk", "region": "Shanghai"},
    )
    shanghai = await lead(gw, "From Shanghai", region="Shanghai")
    beijing = await lead(gw, "From Beijing", region="Beijing")
    assert await owner_of(gw, shanghai) == "sha"
    assert (await owner_changes(gw, shanghai))[0]["rule"] == "Shanghai leads"
    assert await owner_of(gw, beijing) == "ann"


async def test_capacity_skips_a_full_rep_and_reassignment_frees_a_place(
    gw: GatewayHarness,
) -> None:
    await done(gw, "defineAssignmentRule", {"rule": "capped", "team": "A", "capacity": 1})
    first = await lead(gw, "First")
    second = await lead(gw, "Second")
    third = await lead(gw, "Third")
    assert [await owner_of(gw, c) for c in (first, second, third)] == ["ann", "bob", None]
    await done(gw, "assignOwner", {"customerId": first, "owner": "cat", "reason": "moved"})
    history = await owner_changes(gw, first)
    assert [(h["previousOwner"], h["owner"], h["rule"]) for h in history] == [
        ("ann", "cat", None),
        (None, "ann", "capped"),
    ]
    fourth = await lead(gw, "Fourth")
    assert await owner_of(gw, fourth) == "ann"
    kinds = [e["node"]["kind"] for e in (await timeline(gw, first))["edges"]]
    assert kinds.count("OWNER_CHANGE") == 2


async def test_concurrent_registrations_never_exceed_a_capacity(gw: GatewayHarness) -> None:
    await done(gw, "defineAssignmentRule", {"rule": "capped", "team": "A", "capacity": 3})
    leads = await asyncio.gather(*(lead(gw, f"Rush {n}") for n in range(10)))
    owners = Counter([await owner_of(gw, cid) for cid in leads])
    assert owners == Counter({"ann": 3, "bob": 3, None: 4})
