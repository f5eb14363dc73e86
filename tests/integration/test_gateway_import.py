"""`importCustomers` over HTTP on the real servers: a CSV file (base64) is registered row
by row with the CLI's rules; refused rows and duplicates come back with their line; the
same file again records nothing; a GB18030 file reads as such; a bad mapping is a coded
error naming the field; a role without the permission records nothing; a file beyond the
10,000-character string bound (but within the body limit) is accepted."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from anyio import to_thread

from commands.group_commit import GroupCommitter
from commands.service import CommandService
from gateway.deps import Limits
from tests.integration.support.gateway import GatewayHarness, error_codes, first_error
from tests.integration.support.servers import ServerSet
from tests.integration.support.timeline import new_customer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

IMPORT = (
    "mutation($input: ImportCustomersInput!) { importCustomers(input: $input) { "
    "rows imported alreadyImported encoding position "
    "duplicates { line code field reason } refused { line code field reason } } }"
)
CSV = (
    "客户名称,邮箱,手机,地区\n"
    "王小明,wang@example.com,13912345678,华东\n"
    "李雷,not-an-email,,华北\n"
    "韩梅梅,taken@example.com,,华南\n"
    "Zhang San,WANG@example.com,,华东\n"
    ",blank@example.com,,\n"
    "赵六,,,西南\n"
)
MAPPING = [{"header": "客户名称", "field": "name"}]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url, limits=Limits(read_wait_seconds=1.0))
    yield harness
    await harness.aclose()
    servers.drop_database(url)


def encoded(text: str, encoding: str = "utf-8") -> str:
    return base64.b64encode(text.encode(encoding)).decode()


async def upload(gw: GatewayHarness, role: str = "sales", **input: Any) -> dict[str, Any]:
    return await gw.gql(IMPORT, {"input": input}, role=role)


async def max_position(gw: GatewayHarness) -> int:
    return await to_thread.run_sync(lambda: gw.deps.app.recorder.max_notification_id() or 0)


async def names(gw: GatewayHarness) -> list[str]:
    data = await gw.data("{ customers(first: 100) { edges { node { name } } } }")
    return sorted(e["node"]["name"] for e in data["customers"]["edges"])


async def test_a_file_is_reported_row_by_row_and_a_second_upload_records_nothing(
    gw: GatewayHarness,
) -> None:
    await new_customer(gw, "韩梅梅", email="taken@example.com")
    result = await upload(gw, file=encoded(CSV), mapping=MAPPING)
    assert "errors" not in result, result
    report = result["data"]["importCustomers"]
    assert (report["rows"], report["imported"], report["alreadyImported"]) == (6, 2, 0)
    assert report["encoding"] == "UTF8"
    assert [(p["line"], p["code"], p["field"]) for p in report["refused"]] == [
        (3, "VALIDATION", "email"),
        (6, "VALIDATION", "name"),
    ]
    assert [(p["line"], p["field"]) for p in report["duplicates"]] == [(4, "email"), (5, "email")]
    assert "line 2" in report["duplicates"][1]["reason"]
    # A scoped caller is not told which customer has the email (it may be outside the
    # scope, whose ids do not leak); an unscoped one is.
    assert report["duplicates"][0]["reason"] == "same as an existing customer"
    assert await names(gw) == sorted(["韩梅梅", "王小明", "赵六"])

    before = await max_position(gw)
    again = (await upload(gw, file=encoded(CSV), mapping=MAPPING))["data"]["importCustomers"]
    assert report["position"] == await max_position(gw)
    assert result["extensions"]["mutations"]["importCustomers"] == {
        "status": "DONE",
        "position": report["position"],
        "recorded": 2,
    }
    assert (again["imported"], again["alreadyImported"], again["position"]) == (0, 2, before)
    assert await max_position(gw) == before
    taken = "客户名称,邮箱\n韩梅梅,Taken@example.com\n"
    by_admin = await upload(gw, role="admin", file=encoded(taken), mapping=MAPPING)
    (duplicate,) = by_admin["data"]["importCustomers"]["duplicates"]
    assert duplicate["reason"].startswith("same as customer ")


async def test_a_gb18030_file_is_read_as_such(gw: GatewayHarness) -> None:
    text = "姓名,电话\n欧阳娜娜,13700001111\n"
    report = (await upload(gw, file=encoded(text, "gb18030")))["data"]["importCustomers"]
    assert (report["encoding"], report["imported"]) == ("GB18030", 1)
    assert "欧阳娜娜" in await names(gw)
    wrong = await upload(gw, file=encoded("姓名\n张伟\n", "gb18030"), encoding="UTF8")
    assert error_codes(wrong) == ["VALIDATION"]
    assert first_error(wrong)["extensions"]["field"] == "encoding"


async def test_a_bad_mapping_names_the_field(gw: GatewayHarness) -> None:
    before = await max_position(gw)
    result = await upload(
        gw, file=encoded("who\nX\n"), mapping=[{"header": "who", "field": "nickname"}]
    )
    assert error_codes(result) == ["VALIDATION"]
    error = first_error(result)
    assert error["extensions"]["field"] == "mapping[0].field" and "nickname" in error["message"]
    no_name = await upload(gw, file=encoded("who\nX\n"))
    assert error_codes(no_name) == ["VALIDATION"]
    assert first_error(no_name)["extensions"]["field"] == "mapping"
    assert "--map" not in first_error(no_name)["message"], "the API's words, not the CLI's"
    not_base64 = await upload(gw, file="%%%")
    assert "errors" in not_base64 and not_base64.get("data") is None
    assert await max_position(gw) == before


@pytest.mark.parametrize("role", ["support", "analyst", "compliance"])
async def test_roles_without_the_permission_record_nothing(gw: GatewayHarness, role: str) -> None:
    before = await max_position(gw)
    result = await upload(gw, role=role, file=encoded("姓名\n某人\n"))
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["extensions"]["mutations"]["importCustomers"]["status"] == "REFUSED"
    assert await max_position(gw) == before


async def test_a_file_longer_than_a_text_field_is_accepted(gw: GatewayHarness) -> None:
    rows = "".join(f"Bulk Person {i},bulk{i}@example.com\n" for i in range(600))
    file = encoded("name,email\n" + rows)
    assert len(file) > 10_000
    report = (await upload(gw, role="admin", file=file))["data"]["importCustomers"]
    assert (report["rows"], report["imported"], report["refused"]) == (600, 600, [])
    long_note = await gw.gql(
        "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { position } }",
        {"i": {"name": "x" * 10_001}},
    )
    assert error_codes(long_note) == ["VALIDATION"] and "10000" in first_error(long_note)["message"]


async def test_behind_the_group_committer_imports_take_its_bulk_path(
    servers: ServerSet,
) -> None:
    """As `crm up` serves: the deps' service is the group committer, not the service."""
    url = servers.new_database()
    harness = GatewayHarness.start(url)
    service = harness.deps.service
    assert isinstance(service, CommandService)
    committer = GroupCommitter(service)
    harness.deps.service = committer
    try:
        result = await upload(harness, file=encoded("姓名\n组提交\n"))
        assert result["data"]["importCustomers"]["imported"] == 1, result
        assert await names(harness) == ["组提交"]
    finally:
        committer.close()
        await harness.aclose()
        servers.drop_database(url)
