"""Over HTTP on a real database: search as users type (phones, pinyin), names sorted by
pinyin with keyset pages, funnel windows in business days of the deployment's zone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from anyio import to_thread

from gateway.deps import Limits
from tests.integration.support.gateway import OWNER, GatewayHarness
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

NOW = datetime(2025, 3, 1, 2, tzinfo=UTC)  # 10:00 on 1 March in Shanghai
PEOPLE = [
    # name, phone, registered (UTC)
    ("张三", "13800138000", datetime(2025, 1, 31, 17, tzinfo=UTC)),  # 1 Feb, Shanghai
    ("Zara Ali", "13900139000", datetime(2025, 1, 31, 15, tzinfo=UTC)),  # 31 Jan, Shanghai
    ("阿里", "+14155550123", datetime(2025, 2, 10, tzinfo=UTC)),
    ("Bob Stone", "010 1234 5678", datetime(2025, 2, 28, 16, 30, tzinfo=UTC)),  # 1 Mar
    ("周杰", None, datetime(2025, 2, 11, tzinfo=UTC)),
]
SEARCH = (
    "query($text: String) { customers(filter: {text: $text}, first: 50) "
    "{ totalCount edges { node { name } } } }"
)
BY_NAME = (
    "query($first: Int, $after: String, $last: Int, $before: String, $way: SortDirection!) {"
    " customers(first: $first, after: $after, last: $last, before: $before,"
    " orderBy: {field: NAME, direction: $way}) {"
    " edges { node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, clock=lambda: NOW, limits=Limits(read_wait_seconds=1.0))
    query = (
        "mutation($input: RegisterCustomerInput!) { registerCustomer(input: $input) { position } }"
    )
    for name, phone, when in PEOPLE:
        fields: dict[str, Any] = {"name": name, "occurredAt": when.isoformat(), "owner": OWNER}
        if phone:
            fields["phone"] = phone
        await harness.data(query, {"input": fields})
    yield harness
    await harness.aclose()
    servers.drop_database(url)


async def names(gw: GatewayHarness, text: str, role: str = "sales") -> list[str]:
    data = await gw.data(SEARCH, {"text": text}, role=role)
    found = data["customers"]
    assert found["totalCount"] == len(found["edges"])
    return sorted(e["node"]["name"] for e in found["edges"])


@pytest.mark.parametrize(
    "typed",
    ["138 0013 8000", "+86-138-0013-8000", "+86 138 0013 8000", "0086-13800138000", "0013 8000"],
)
async def test_a_phone_typed_with_spaces_dashes_or_prefix_is_found(
    gw: GatewayHarness, typed: str
) -> None:
    assert await names(gw, typed) == ["张三"]


async def test_landline_and_foreign_numbers_typed_as_written(gw: GatewayHarness) -> None:
    assert await names(gw, "(010) 1234-5678") == ["Bob Stone"]
    assert await names(gw, "+1 415 555 0123") == ["阿里"]
    assert await names(gw, "555-0123") == ["阿里"]


async def test_chinese_names_match_by_pinyin_initials_and_characters(gw: GatewayHarness) -> None:
    assert await names(gw, "zhangsan") == ["张三"]
    assert await names(gw, "Zhang San") == ["张三"]
    assert await names(gw, "zs") == ["张三"]
    assert await names(gw, "张") == ["张三"]
    assert await names(gw, "ali") == ["Zara Ali", "阿里"]
    assert await names(gw, "zhou") == ["周杰"]


async def test_names_sort_by_pinyin_and_keyset_pages_add_up(gw: GatewayHarness) -> None:
    expected = ["阿里", "Bob Stone", "Zara Ali", "张三", "周杰"]
    for way, order in (("ASC", expected), ("DESC", expected[::-1])):
        seen: list[str] = []
        after = None
        while True:
            data = await gw.data(BY_NAME, {"first": 2, "after": after, "way": way})
            page = data["customers"]
            seen += [e["node"]["name"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == order
    back: list[str] = []
    before = None
    while True:
        data = await gw.data(BY_NAME, {"last": 2, "before": before, "way": "ASC"})
        page = data["customers"]
        back = [e["node"]["name"] for e in page["edges"]] + back
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert back == expected


async def test_forgetting_clears_the_search_keys(gw: GatewayHarness) -> None:
    query = (
        "mutation($input: RegisterCustomerInput!) { registerCustomer(input: $input) "
        "{ customer { id } } }"
    )
    data = await gw.data(query, {"input": {"name": "钱七", "phone": "13600136000", "owner": OWNER}})
    cid = data["registerCustomer"]["customer"]["id"]
    assert await names(gw, "qianqi") == ["钱七"]
    forget = "mutation($input: ForgetCustomerInput!) { forgetCustomer(input: $input) { position } }"
    await gw.data(forget, {"input": {"customerId": cid, "reason": "asked"}})
    assert await names(gw, "qianqi") == [] and await names(gw, "136 0013 6000") == []

    def keys() -> Any:
        with gw.deps.reads.pool.connection() as conn:
            return conn.execute(
                "SELECT name_pinyin, name_initials, phone_digits FROM rm_customers WHERE id = %s",
                [cid],
            ).fetchone()

    assert await to_thread.run_sync(keys) == (None, None, None)


async def test_funnel_days_and_today_are_the_business_zone_s(gw: GatewayHarness) -> None:
    query = (
        "query($from: Date, $to: Date) { funnel(fromDate: $from, toDate: $to) "
        "{ from to stages { stage reached } } businessTime { timezone now today } }"
    )
    data = await gw.data(query, {"from": "2025-02-01", "to": "2025-02-28"}, role="analyst")
    funnel = data["funnel"]
    assert funnel["from"] == "2025-02-01T00:00:00+08:00"
    assert funnel["to"] == "2025-03-01T00:00:00+08:00"
    # 张三 (1 Feb Shanghai), 阿里, 周杰; not Zara (31 Jan) nor Bob (1 Mar in Shanghai).
    assert funnel["stages"][0] == {"stage": "LEAD", "reached": 3}
    assert data["businessTime"] == {
        "timezone": "Asia/Shanghai",
        "now": "2025-03-01T10:00:00+08:00",
        "today": "2025-03-01",
    }
    both = await gw.gql(
        'query { funnel(from: "2025-02-01T00:00:00Z", fromDate: "2025-02-01") '
        "{ stages { reached } } }",
        role="analyst",
    )
    error = both["errors"][0]["extensions"]
    assert error == {"code": "VALIDATION", "field": "fromDate"}
    # A window that ends before it starts is refused, by moments as by dates.
    for window, field in (
        ('from: "2025-03-01T00:00:00Z", to: "2025-02-01T00:00:00Z"', "to"),
        ('from: "2025-03-01T00:00:00Z", toDate: "2025-02-01"', "toDate"),
        ('fromDate: "2025-03-01", to: "2025-02-01T00:00:00Z"', "to"),
        ('fromDate: "2025-03-01", toDate: "2025-02-01"', "toDate"),
    ):
        inverted = await gw.gql(
            f"query {{ funnel({window}) {{ stages {{ reached }} }} }}", role="analyst"
        )
        assert inverted["errors"][0]["extensions"] == {"code": "VALIDATION", "field": field}
