"""GraphQL reads of personal data land in the access log (docs/compliance.md §5), one
batch per request, and `crm audit access ID` lists them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import pytest_asyncio
from typer.testing import CliRunner

from compliance.access_log import AccessEntry, AccessLog, AccessRecord, access_history
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

REGISTER = (
    "mutation($name: String!, $email: String) { registerCustomer(input: "
    '{name: $name, email: $email, phone: null, owner: "sales-user"}) { customer { id } } }'
)
PAGE = "{ customers(first: 10) { edges { node { id name email company } } } }"


class CountingLog(AccessLog):
    """The real access log, counting how many times a request hands it entries."""

    calls: list[list[AccessEntry]]

    def add(self, entries: Iterable[AccessEntry]) -> None:
        batch = list(entries)
        if batch:
            self.calls.append(batch)
        super().add(batch)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gw(servers: ServerSet) -> AsyncIterator[GatewayHarness]:
    url = servers.new_database()
    harness = GatewayHarness.start(url)
    assert harness.deps.access_log is not None
    harness.deps.access_log.close()
    counting = CountingLog(harness.deps.app)
    counting.calls = []
    harness.deps.access_log = counting
    yield harness
    await harness.aclose()
    servers.drop_database(url)


def log_of(gw: GatewayHarness) -> CountingLog:
    log = gw.deps.access_log
    assert isinstance(log, CountingLog)
    return log


async def register(gw: GatewayHarness, name: str, email: str) -> UUID:
    data = await gw.data(REGISTER, {"name": name, "email": email})
    return UUID(data["registerCustomer"]["customer"]["id"])


def history(gw: GatewayHarness, cid: UUID, operation: str) -> list[AccessRecord]:
    log_of(gw).flush()
    return [r for r in access_history(gw.deps.app, cid) if r.operation == operation]


async def test_a_page_of_customers_is_one_batch_with_subject_role_and_fields(
    gw: GatewayHarness,
) -> None:
    ids = [await register(gw, f"Page {i}", f"page{i}@example.com") for i in range(3)]
    log_of(gw).calls.clear()
    await gw.data(PAGE, role="sales", subject="sam")
    assert len(log_of(gw).calls) == 1, "one hand-over per request, not one per customer"
    for cid in ids:
        (read,) = history(gw, cid, "graphql:customers")
        assert (read.actor, read.role, read.fields) == ("sam", "sales", ("name", "email"))
        assert read.at is not None


async def test_the_analyst_sees_no_personal_fields_and_leaves_no_row(gw: GatewayHarness) -> None:
    cid = await register(gw, "Ana Lyst", "ana@example.com")
    log_of(gw).calls.clear()
    data = await gw.data(
        "query($id: ID!) { customer(id: $id) { id name email } }", {"id": str(cid)}, role="analyst"
    )
    assert data["customer"]["name"] is None
    assert log_of(gw).calls == []
    assert history(gw, cid, "graphql:customer") == []


async def test_audit_trail_and_as_of_are_recorded(gw: GatewayHarness) -> None:
    cid = await register(gw, "Audi Trail", "audi@example.com")
    await gw.data(
        "query($id: ID!) { auditTrail(customerId: $id) { edges { node { type data } } } }",
        {"id": str(cid)},
        role="compliance",
        subject="dpo",
    )
    (trail,) = history(gw, cid, "graphql:auditTrail")
    assert (trail.actor, trail.role) == ("dpo", "compliance")
    assert {"name", "email"} <= set(trail.fields)
    await gw.data(
        'query($id: ID!) { customerAsOf(id: $id, at: "2999-01-01T00:00:00Z") { name email } }',
        {"id": str(cid)},
        role="compliance",
        subject="dpo",
    )
    (past,) = history(gw, cid, "graphql:customerAsOf")
    assert past.fields == ("name", "email")


async def test_an_aliased_profile_read_names_the_field_and_the_cli_lists_it(
    gw: GatewayHarness, tmp_path: Path
) -> None:
    cid = await register(gw, "Cli Reader", "cli@example.com")
    await gw.data(
        "query($id: ID!) { who: customer(id: $id) { phone email } }",
        {"id": str(cid)},
        role="support",
        subject="sue",
    )
    (read,) = history(gw, cid, "graphql:customer")
    assert read.fields == ("email",), "a null phone was not returned, so not read"

    from ops.cli import app as cli

    env = {
        "CRM_DATABASE_URL": gw.database_url,
        "CRM_MASTER_KEY": gw.master_key,
        "CRM_DATA_DIR": str(tmp_path),
    }
    result = CliRunner().invoke(cli, ["audit", "access", str(cid), "-f", "json"], env=env)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    graphql = [r for r in rows if r["operation"] == "graphql:customer"]
    assert [(r["actor"], r["role"], r["fields"]) for r in graphql] == [
        ("sue", "support", ["email"])
    ]
