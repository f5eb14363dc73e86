"""`revenueByMonth`: CNY per calendar month of the business zone, every month listed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio

from tests.integration.support.gateway import GatewayHarness, error_codes
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
REVENUE = "query($m: Int!) { revenueByMonth(months: $m) { month total orders } }"
REGISTER = (
    "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { customer { id } } }"
)
PURCHASE = "mutation($i: RecordPurchaseInput!) { recordPurchase(input: $i) { customer { id } } }"


@pytest_asyncio.fixture(loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, clock=lambda: NOW)
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def buy(gw: GatewayHarness, customer: str, order: str, at: str, price: str) -> None:
    lines = [{"sku": "A", "quantity": 1, "unitPrice": price}]
    await gw.data(
        PURCHASE,
        {"i": {"customerId": customer, "orderId": order, "lines": lines, "occurredAt": at}},
    )


async def test_months_in_the_business_zone_with_empty_ones(gw: GatewayHarness) -> None:
    customer = (
        await gw.data(REGISTER, {"i": {"name": "买家", "occurredAt": "2025-12-01T00:00:00Z"}})
    )["registerCustomer"]["customer"]["id"]
    await buy(gw, customer, "o1", "2026-01-10T10:00:00Z", "100.00")
    await buy(gw, customer, "o2", "2026-01-20T10:00:00Z", "50.50")
    # 31 January 20:00 UTC is 1 February 04:00 in Shanghai: February's revenue.
    await buy(gw, customer, "o3", "2026-01-31T20:00:00Z", "7.00")
    await buy(gw, customer, "o4", "2026-03-01T01:00:00Z", "1.00")
    months = (await gw.data(REVENUE, {"m": 4}, role="analyst"))["revenueByMonth"]
    assert months == [
        {"month": "2025-12", "total": "0.00", "orders": 0},
        {"month": "2026-01", "total": "150.50", "orders": 2},
        {"month": "2026-02", "total": "7.00", "orders": 1},
        {"month": "2026-03", "total": "1.00", "orders": 1},
    ]


async def test_bounds_and_roles(gw: GatewayHarness) -> None:
    refused = await gw.gql(REVENUE, {"m": 0}, role="analyst")
    assert refused["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "months"}
    assert error_codes(await gw.gql(REVENUE, {"m": 3}, role="sales")) == ["FORBIDDEN"]
