"""No N+1: a page of 100 customers with their complaints costs a bounded handful of SQL
statements, counted on the gateway's read pool."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from anyio import to_thread

from commands.messages import CommandContext, FileComplaint, RegisterCustomer
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PAGE = """
query($after: String) {
  customers(first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id name email tags stage lifecycleStage tier
      purchases { count total } touches { count byChannel { channel count } }
      complaints { id status severity }
      open: complaints(status: OPEN) { id }
    } }
  }
}
"""
MAX_STATEMENTS = 8


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url)
    context = CommandContext(actor="seed")

    def seed() -> None:
        results = harness.deps.service.handle_many(
            [RegisterCustomer(name=f"Customer {i:03}") for i in range(150)], context
        )
        harness.deps.service.handle_many(
            [
                FileComplaint(
                    customer_id=r.customer_id,
                    category="late",
                    severity="LOW",
                    description="late again",
                )
                for r in results[::2]
            ],
            context,
        )
        harness.sync()

    await to_thread.run_sync(seed)
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def test_a_page_of_100_with_complaints_takes_a_bounded_handful_of_queries(
    gw: GatewayHarness,
) -> None:
    before = gw.deps.reads.statements
    page = (await gw.data(PAGE))["customers"]
    first_page = gw.deps.reads.statements - before
    assert len(page["edges"]) == 100 and page["totalCount"] == 150
    assert first_page <= MAX_STATEMENTS, first_page

    before = gw.deps.reads.statements
    rest = (await gw.data(PAGE, {"after": page["pageInfo"]["endCursor"]}))["customers"]
    second_page = gw.deps.reads.statements - before
    assert len(rest["edges"]) == 50 and not rest["pageInfo"]["hasNextPage"]
    assert second_page == first_page, "the cost does not grow with the page"
    edges = page["edges"] + rest["edges"]
    assert len({e["node"]["id"] for e in edges}) == 150
    assert sum(len(e["node"]["complaints"]) for e in edges) == 75
    assert all(len(e["node"]["open"]) == len(e["node"]["complaints"]) for e in edges)
    print(f"SQL statements for a page of 100 customers with complaints: {first_page}")


LISTS = """
query($after: String) {
  customers(first: 50, after: $after) {
    pageInfo { endCursor }
    edges { node {
      id
      complaints { id }
      timeline(first: 3) { edges { node { kind position } } pageInfo { hasNextPage } }
      complaintsOnly: timeline(first: 1, types: [COMPLAINT_FILED]) { edges { node { kind } } }
      orders(first: 2) { edges { node { orderId } } }
      touchHistory(first: 2) { edges { node { channel } } }
    } }
  }
}
"""


async def test_timelines_and_lists_of_a_page_are_batched(gw: GatewayHarness) -> None:
    before = gw.deps.reads.statements
    page = (await gw.data(LISTS))["customers"]
    first_page = gw.deps.reads.statements - before
    nodes = [e["node"] for e in page["edges"]]
    assert len(nodes) == 50
    assert all(n["timeline"]["edges"][-1]["node"]["kind"] == "REGISTERED" for n in nodes)
    assert all(bool(n["complaintsOnly"]["edges"]) == bool(n["complaints"]) for n in nodes)
    assert any(n["complaints"] for n in nodes) and not all(n["complaints"] for n in nodes)
    assert first_page <= MAX_STATEMENTS + 6, first_page
    before = gw.deps.reads.statements
    await gw.data(LISTS, {"after": page["pageInfo"]["endCursor"]})
    assert gw.deps.reads.statements - before == first_page, "the cost does not grow"
    print(f"SQL statements for 50 customers with two timelines, orders, touches: {first_page}")


async def test_a_page_of_customers_and_their_rows_is_one_statement(gw: GatewayHarness) -> None:
    """The keyset page and its rows are one statement (`projections.keyset`); the count,
    when selected, is one more (a counter lookup), in the same trip to the pool."""
    rows = "edges { node { id name company stage lifecycleStage tier purchases { count } } }"
    for query, statements in (
        ("{ customers(first: 20) { " + rows + " } }", 1),
        ("{ customers(first: 20) { totalCount " + rows + " } }", 2),
        ("{ customers(first: 20) { totalCount @skip(if: true) " + rows + " } }", 1),
    ):
        before, trips = gw.deps.reads.statements, gw.deps.reads.trips.count
        page = (await gw.data(query))["customers"]
        assert gw.deps.reads.statements - before == statements, query
        assert gw.deps.reads.trips.count - trips == 1, "the count rides with the page"
        assert len(page["edges"]) == 20
        assert all(e["node"]["name"].startswith("Customer ") for e in page["edges"])


async def test_a_profile_and_its_complaints_are_read_together(gw: GatewayHarness) -> None:
    """`customer(id:)` selecting `complaints` reads the profile and its complaints in one
    trip to the pool, the ids resolved through merges once: three statements, not four."""
    page = await gw.data("{ customers(first: 50) { edges { node { id complaints { id } } } } }")
    with_complaint = next(  # every other customer filed one
        e["node"]["id"] for e in page["customers"]["edges"] if e["node"]["complaints"]
    )
    query = """query($id: ID!) { customer(id: $id) {
        id name complaints { id status description } open: complaints(status: OPEN) { id }
    } }"""
    before, trips = gw.deps.reads.statements, gw.deps.reads.trips.count
    customer = (await gw.data(query, {"id": with_complaint}))["customer"]
    # resolve + profile + complaints (one trip); then resolve + the OPEN ones (loader).
    assert gw.deps.reads.statements - before == 5
    assert gw.deps.reads.trips.count - trips == 2
    assert [c["description"] for c in customer["complaints"]] == ["late again"]
    assert [c["id"] for c in customer["open"]] == [c["id"] for c in customer["complaints"]]

    before, trips = gw.deps.reads.statements, gw.deps.reads.trips.count
    alone = await gw.data(
        query.replace(" open: complaints(status: OPEN) { id }", ""), {"id": with_complaint}
    )
    assert gw.deps.reads.statements - before == 3
    assert gw.deps.reads.trips.count - trips == 1
    assert alone["customer"]["complaints"] == customer["complaints"]
