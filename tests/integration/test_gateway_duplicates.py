"""`duplicateCandidates` over HTTP on the real servers: pairs found by phone, email and
pinyin name with their reasons and score, keyset pages, a merge removes the pair, the
role matrix refuses support, and an analyst sees the pairs with personal fields null."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness, error_codes, first_error
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import done, new_customer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

CANDIDATES = (
    "query($first: Int, $after: String) { duplicateCandidates(first: $first, after: $after) { "
    "edges { cursor node { score reasons survivorId duplicateId "
    "survivor { id name phone } duplicate { id name email } } } "
    "pageInfo { hasNextPage endCursor } } }"
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, limits=Limits(read_wait_seconds=1.0))
    yield harness
    await harness.aclose()
    servers.drop_database(url)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def people(gw: GatewayHarness) -> dict[str, str]:
    """Three likely pairs, and customers that pair with nobody (a homonym at another
    company is not a duplicate)."""
    return {
        "zhang": await new_customer(gw, "张三", 0, phone="138 0013 8000", company="星辰科技"),
        "zhang_latin": await new_customer(
            gw, "Zhang San", 1, phone="+86-138-0013-8000", company="星辰科技"
        ),
        "ann": await new_customer(gw, "Ann Lee", 2, email="ann@example.com", region="华东"),
        "ann_tagged": await new_customer(
            gw, "Annie Li", 3, email="ann+shop@example.com", region="华东"
        ),
        "wang": await new_customer(gw, "王五", 4, region="华北", company="Acme"),
        "wang_pinyin": await new_customer(gw, "wangwu", 5, region="华南", company=" ACME "),
        "homonym": await new_customer(gw, "王五", 6, region="华北", company="Other Co"),
        "alone": await new_customer(gw, "Nobody Alike", 7, phone="13912345678"),
    }


async def candidates(gw: GatewayHarness, role: str = "admin", **args: Any) -> Any:
    data = await gw.data(CANDIDATES, args, role=role)
    return data["duplicateCandidates"]


def pairs(page: Any) -> list[tuple[str, str, int, list[str]]]:
    return [
        (
            e["node"]["survivorId"],
            e["node"]["duplicateId"],
            e["node"]["score"],
            e["node"]["reasons"],
        )
        for e in page["edges"]
    ]


async def test_pairs_are_found_with_their_reasons_best_first(
    gw: GatewayHarness, people: dict[str, str]
) -> None:
    page = await candidates(gw, first=10)
    assert pairs(page) == [
        (people["zhang"], people["zhang_latin"], 90, ["PHONE", "NAME", "COMPANY"]),
        (people["ann"], people["ann_tagged"], 55, ["EMAIL", "REGION"]),
        (people["wang"], people["wang_pinyin"], 40, ["NAME", "COMPANY"]),
    ]
    assert not page["pageInfo"]["hasNextPage"]
    first = page["edges"][0]["node"]
    assert first["survivor"] == {"id": people["zhang"], "name": "张三", "phone": "+8613800138000"}
    assert first["duplicate"]["name"] == "Zhang San"


async def test_pages_walk_the_same_order(gw: GatewayHarness, people: dict[str, str]) -> None:
    whole = pairs(await candidates(gw, first=10))
    one = await candidates(gw, first=1)
    assert one["pageInfo"]["hasNextPage"]
    rest = await candidates(gw, first=2, after=one["pageInfo"]["endCursor"])
    assert pairs(one) + pairs(rest) == whole and not rest["pageInfo"]["hasNextPage"]
    bad = await gw.gql(CANDIDATES, {"after": "not-a-cursor"})
    assert error_codes(bad) == ["VALIDATION"] and first_error(bad)["extensions"]["field"] == "after"


async def test_support_may_not_look_for_duplicates(gw: GatewayHarness) -> None:
    result = await gw.gql(CANDIDATES, {"first": 5}, role="support")
    assert error_codes(result) == ["FORBIDDEN"]


async def test_an_analyst_sees_the_pairs_without_personal_data(
    gw: GatewayHarness, people: dict[str, str]
) -> None:
    page = await candidates(gw, role="analyst", first=10)
    assert [p[:2] for p in pairs(page)][:1] == [(people["zhang"], people["zhang_latin"])]
    for edge in page["edges"]:
        node = edge["node"]
        assert node["survivor"]["name"] is None and node["survivor"]["phone"] is None
        assert node["duplicate"]["name"] is None and node["duplicate"]["email"] is None


async def test_a_merge_removes_the_pair(gw: GatewayHarness, people: dict[str, str]) -> None:
    before = pairs(await candidates(gw, first=10))
    survivor, duplicate = before[-1][:2]
    await done(
        gw, "mergeCustomers", {"survivorId": survivor, "duplicateId": duplicate}, role="compliance"
    )
    after = pairs(await candidates(gw, first=10))
    assert after == before[:-1]
