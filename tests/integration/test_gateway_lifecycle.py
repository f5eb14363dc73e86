"""GraphQL serves the stored lifecycle stage and tier: lists, distributions, profiles.

The facts table is emptied behind the read models' back: a read that derived the
stage from the purchases would now say PROSPECT and BRONZE; a lookup still says what
the projections stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
import pytest_asyncio

from commands.messages import CommandContext, PurchaseLineInput, RecordPurchase, RegisterCustomer
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CTX = CommandContext(actor="sales:ann")
LIST = """query($f: CustomerFilter) {
  customers(filter: $f) { totalCount edges { node { id lifecycleStage tier purchases { count } } } }
  lifecycleDistribution { stage count }
  tierDistribution { tier count }
}"""


@pytest_asyncio.fixture(loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url)
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def test_lists_and_distributions_read_the_stored_columns(gw: GatewayHarness) -> None:
    service = gw.deps.service
    cid = service.handle(RegisterCustomer(name="Gold Buyer"), CTX).customer_id
    line = PurchaseLineInput(sku="X", quantity=1, unit_price=Decimal("25000"))
    at = datetime.now(UTC) - timedelta(days=3)
    service.handle(RecordPurchase(customer_id=cid, lines=(line,), occurred_at=at), CTX)
    gw.sync()
    with psycopg.connect(gw.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM rm_purchases")

    data = await gw.data(LIST, {"f": {"lifecycleStage": "NEW_CUSTOMER", "tier": "GOLD"}})
    assert data["customers"]["totalCount"] == 1
    node = data["customers"]["edges"][0]["node"]
    assert (node["id"], node["lifecycleStage"], node["tier"]) == (str(cid), "NEW_CUSTOMER", "GOLD")
    assert node["purchases"]["count"] == 1
    lifecycle = {c["stage"]: c["count"] for c in data["lifecycleDistribution"]}
    tiers = {t["tier"]: t["count"] for t in data["tierDistribution"]}
    assert (lifecycle["NEW_CUSTOMER"], tiers["GOLD"]) == (1, 1)
