"""Test support: a gateway over a real database, reached through HTTP in-process.

`GatewayHarness` wires the event store, command service, read pool and the GraphQL
app over one database, with `ReadModelSync` as the deps' `after_write` hook: each
mutation brings the read models up to date synchronously (the stream processors'
job in production), so tests read their own writes deterministically.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import httpx
from starlette.applications import Starlette

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import (
    AddTeamMember,
    Command,
    CommandContext,
    CommandResult,
    DefineDepartment,
    DefineTeam,
)
from commands.service import CommandService
from compliance.access_log import AccessLog
from gateway.auth import IdentityProvider, mint_token
from gateway.db import ReadPool
from gateway.deps import GatewayDeps, Limits, utc_now
from gateway.graphql_app import GraphQLApp, create_graphql_app
from streams.sink import ReadModelSink
from streams.source import EventSource


class ReadModelSync:
    """Apply every stored event not applied yet to the read models, in this thread."""

    def __init__(
        self,
        app: CrmApplication,
        database_url: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.source = EventSource(app)
        self.sink = ReadModelSink(app, database_url, clock=clock)
        self.position = 0
        self.lock = threading.Lock()

    def __call__(self, _result: CommandResult | None = None) -> int:
        with self.lock:
            while True:
                batch = self.source.read_after(self.position, 10_000)
                if not batch.envelopes:
                    return self.position
                self.sink(batch.envelopes)
                self.position = batch.last_position

    def close(self) -> None:
        self.sink.close()


TEST_TEAM: Final = (
    "sales-user",
    "support-user",
    "manager-user",
    "amy",
    "bob",
    "sam",
    "sue",
    "susan",
    "li",
    "clerk-1",
    "clerk-2",
    "sales-1",
    "lead@crm",
    "sam@crm",
    "sue@crm",
    "support-1",
    "susan@crm",
    "li.na",
    "wang.fang",
)
"""The test subjects who are teammates (team "Test team", department "Test") unless a
test defines its own organisation: scoping holds in every test, and a customer owned by
`OWNER` is in their scope."""
OWNER: Final = "sales-user"


def define_test_team(app: CrmApplication, service: CommandService, members: Sequence[str]) -> None:
    """The test organisation, recorded through the command layer like any other."""
    context = CommandContext(actor="test-setup")
    commands: list[Command] = [
        DefineDepartment(department="Test"),
        DefineTeam(team="Test team", department="Test"),
        *(AddTeamMember(team="Test team", member=m) for m in members),
    ]
    service.handle_many(commands, context)


@dataclass
class GatewayHarness:
    database_url: str
    deps: GatewayDeps
    graphql: GraphQLApp
    client: httpx.AsyncClient
    sync: ReadModelSync
    secret: str
    master_key: str
    """The store's master key: a `crm` verb run on the harness's database needs it."""

    @classmethod
    def start(
        cls,
        database_url: str,
        *,
        kafka_bootstrap: str | None = None,
        topic: str | None = None,
        limits: Limits | None = None,
        sync_writes: bool = True,
        clock: Callable[[], datetime] = utc_now,
        production: bool = False,
        identity: IdentityProvider | None = None,
        team: Sequence[str] | None = TEST_TEAM,
    ) -> GatewayHarness:
        """`team`: the subjects put in one team before serving (None: no organisation)."""
        master_key = generate_master_key()
        app = CrmApplication(database_url, master_key=master_key, pool_size=4)
        sync = ReadModelSync(app, database_url, clock)
        service = CommandService(app)
        if team and not app.recorder.max_notification_id():
            # A new database only: a harness over a seeded store (another master key)
            # reads what is there and must not fold it with its own key.
            define_test_team(app, service, team)
            sync()
        deps = GatewayDeps(
            app=app,
            service=service,
            reads=ReadPool(database_url, max_size=4),
            limits=limits or Limits(),
            clock=clock,
            after_write=sync if sync_writes else None,
            access_log=AccessLog(app),
        )
        secret = secrets.token_urlsafe(32)
        graphql = create_graphql_app(
            deps,
            jwt_secret=secret,
            production=production,
            kafka_bootstrap=kafka_bootstrap,
            topic=topic,
            identity=identity,
        )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=Starlette(routes=graphql.routes)),
            base_url="http://gateway.test",
        )
        return cls(database_url, deps, graphql, client, sync, secret, master_key)

    def token(self, role: str = "admin", subject: str | None = None, **kwargs: Any) -> str:
        return mint_token(self.secret, subject=subject or f"{role}-user", role=role, **kwargs)

    def headers(self, role: str = "admin", subject: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, subject)}"}

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        role: str | None = "admin",
        subject: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(self.headers(role, subject)) if role else {}
        sent.update(headers or {})
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.client.post("/graphql", json=body, headers=sent)

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        role: str = "admin",
        subject: str | None = None,
    ) -> dict[str, Any]:
        """The JSON answer of a request expected to reach execution (HTTP 200)."""
        response = await self.post(query, variables, role=role, subject=subject)
        assert response.status_code == 200, (response.status_code, response.text)
        result: dict[str, Any] = response.json()
        return result

    async def data(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        role: str = "admin",
        subject: str | None = None,
    ) -> dict[str, Any]:
        """`data` of a request expected to succeed without any error."""
        result = await self.gql(query, variables, role=role, subject=subject)
        assert "errors" not in result, result["errors"]
        data: dict[str, Any] = result["data"]
        return data

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.graphql.aclose()
        self.sync.close()
        self.deps.close()


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors", [])]


def first_error(result: dict[str, Any]) -> dict[str, Any]:
    errors = result.get("errors") or []
    assert errors, f"expected an error, got {result}"
    error: dict[str, Any] = errors[0]
    return error


EXPIRED = timedelta(seconds=-60)
