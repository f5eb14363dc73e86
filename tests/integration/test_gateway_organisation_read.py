"""The `organisation` query over HTTP on the real servers: what the admin defined comes
back sorted by name at every level (a department without teams too), a rule's `open`
counts the leads it routed that are still with their rep (a reassignment frees one),
a manager reads the same, a rep is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness, error_codes
from tests.integration.support.organisation import define_organisation
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import done, new_customer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ORGANISATION = """{ organisation {
  departments { name teams { name department members } }
  rules { rule team region source capacity open }
} }"""


@pytest_asyncio.fixture(loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    """A fresh database: the organisation read back is exactly what this test defined."""
    url = servers.new_database()
    harness = GatewayHarness.start(url, limits=Limits(read_wait_seconds=1.0), team=None)
    # Defined out of name order, members out of name order: the answer sorts them.
    await define_organisation(
        harness, {"West": [], "East": ["Shanghai desk", "A"]}, {"A": ["bob", "ann"]}
    )
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def test_admin_reads_what_was_defined_sorted_with_open_leads(gw: GatewayHarness) -> None:
    await done(gw, "defineAssignmentRule", {"rule": "catch-all", "team": "A", "capacity": 2})
    await done(
        gw,
        "defineAssignmentRule",
        {"rule": "Shanghai", "team": "Shanghai desk", "region": "Shanghai", "source": "web"},
    )
    routed = [await new_customer(gw, f"Lead {n}", owner=None) for n in range(2)]
    await done(gw, "assignOwner", {"customerId": routed[0], "owner": "cat", "reason": "moved"})

    data = await gw.data(ORGANISATION)

    assert data["organisation"] == {
        "departments": [
            {
                "name": "East",
                "teams": [
                    {"name": "A", "department": "East", "members": ["ann", "bob"]},
                    {"name": "Shanghai desk", "department": "East", "members": []},
                ],
            },
            {"name": "West", "teams": []},
        ],
        "rules": [
            {
                "rule": "Shanghai",
                "team": "Shanghai desk",
                "region": "Shanghai",
                "source": "web",
                "capacity": None,
                "open": 0,
            },
            {
                "rule": "catch-all",
                "team": "A",
                "region": None,
                "source": None,
                "capacity": 2,
                "open": 1,  # two routed, one handed to cat: released
            },
        ],
    }


async def test_a_manager_reads_it_and_a_rep_is_refused(gw: GatewayHarness) -> None:
    await done(gw, "removeTeamMember", {"team": "A", "member": "bob"})
    managed = await gw.data(ORGANISATION, role="manager")
    [east, _west] = managed["organisation"]["departments"]
    assert east["teams"][0] == {"name": "A", "department": "East", "members": ["ann"]}
    compliance = await gw.data(ORGANISATION, role="compliance")
    assert compliance == managed
    refused = await gw.gql(ORGANISATION, role="sales")
    assert error_codes(refused) == ["FORBIDDEN"] and refused.get("data") is None
