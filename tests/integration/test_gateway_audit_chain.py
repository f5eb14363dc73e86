"""`auditChain`: the hash chain verified through GraphQL (the compliance screen's status)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
import pytest_asyncio

from tests.integration.support.gateway import GatewayHarness, error_codes
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CHAIN = "{ auditChain { intact eventsChecked lastPosition firstBreak { position kind } } }"
REGISTER = (
    "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { customer { id } } }"
)


@pytest_asyncio.fixture(loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url)
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def test_an_intact_chain_then_an_edited_event_named_by_position(gw: GatewayHarness) -> None:
    for name in ("甲", "乙", "丙"):
        await gw.data(REGISTER, {"i": {"name": name}})
    status = (await gw.data(CHAIN, role="compliance"))["auditChain"]
    assert status["intact"] is True and status["firstBreak"] is None
    assert status["eventsChecked"] == status["lastPosition"] >= 3

    with psycopg.connect(gw.database_url, autocommit=True) as conn:
        conn.execute("UPDATE crm_event_meta SET actor = 'someone-else' WHERE position = 2")
    broken = (await gw.data(CHAIN, role="admin"))["auditChain"]
    assert broken["intact"] is False
    assert broken["firstBreak"] == {"position": 2, "kind": "altered"}


@pytest.mark.parametrize("role", ["sales", "support", "analyst"])
async def test_roles_without_audit_access_are_refused(gw: GatewayHarness, role: str) -> None:
    assert error_codes(await gw.gql(CHAIN, role=role)) == ["FORBIDDEN"]
