"""Subscriptions for real: uvicorn on a free port, graphql-transport-ws over WebSocket,
events published by the outbox relay to the Kafka-protocol broker and pushed live."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import jwt
import psycopg
import pytest
import pytest_asyncio
import uvicorn
from anyio import to_thread
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from compliance.access_log import AccessRecord, access_history
from streams.relay import Relay
from streams.task_scheduler import mark_due_tasks
from streams.topic import ensure_topic
from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.servers import ServerSet

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SUBSCRIBE = (
    "subscription($id: ID) { customerEvents(customerId: $id) "
    "{ position type version actor data customerId streamId occurredAt recordedAt } }"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Live:
    gw: GatewayHarness
    url: str
    relay: Relay

    def publish(self) -> None:
        self.relay.publish_available()


@pytest.fixture(scope="module")
def live(servers: ServerSet) -> Iterator[Live]:
    url = servers.new_database()
    topic = servers.new_topic()
    ensure_topic(servers.kafka_bootstrap, topic, 1)
    gw = GatewayHarness.start(url, kafka_bootstrap=servers.kafka_bootstrap, topic=topic)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=gw.graphql.routes),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    relay = Relay(gw.deps.app, url, servers.kafka_bootstrap, topic, partitions=1)
    try:
        yield Live(gw, f"127.0.0.1:{port}", relay)
    finally:
        server.should_exit = True
        thread.join(10)
        relay.close()
        gw.sync.close()
        gw.deps.close()
        servers.drop_database(url)


@pytest_asyncio.fixture(loop_scope="session")
async def http(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://{live.url}") as client:
        yield client


async def graphql(
    client: httpx.AsyncClient, live: Live, query: str, variables: dict[str, Any], role: str
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=live.gw.headers(role)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def open_subscription(live: Live, token: str, customer_id: str | None) -> ClientConnection:
    ws = await connect(f"ws://{live.url}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert ack["type"] == "connection_ack"
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"id": customer_id}},
            }
        )
    )
    return ws


async def wait_until_listening(live: Live, subscribers: int) -> None:
    hub = live.gw.deps.live
    assert hub is not None
    deadline = time.monotonic() + 15
    while not (hub.ready and len(hub.subscribers) >= subscribers):
        assert time.monotonic() < deadline, "the live consumer never got ready"
        await asyncio.sleep(0.05)


async def next_event(ws: ClientConnection, type_suffix: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {type_suffix} event arrived"
        message = json.loads(await asyncio.wait_for(ws.recv(), left))
        assert message["type"] == "next", message
        event: dict[str, Any] = message["payload"]["data"]["customerEvents"]
        if event["type"].startswith(type_suffix):
            return event


async def test_a_subscription_receives_a_live_event(live: Live, http: httpx.AsyncClient) -> None:
    registered = await graphql(
        http,
        live,
        'mutation { registerCustomer(input: {name: "Live Li", email: "live@example.com", '
        'owner: "sales-user"}) '
        "{ customer { id } } }",
        {},
        "admin",
    )
    other = await graphql(
        http,
        live,
        'mutation { registerCustomer(input: {name: "Other", owner: "sales-user"}) '
        "{ customer { id } } }",
        {},
        "admin",
    )
    cid = registered["registerCustomer"]["customer"]["id"]
    admin = await open_subscription(live, live.gw.token("admin"), cid)
    analyst = await open_subscription(live, live.gw.token("analyst"), cid)
    try:
        await wait_until_listening(live, 2)
        touched = await graphql(
            http,
            live,
            "mutation($id: ID!) { recordContactTouch(input: {customerId: $id, channel: PHONE, "
            'summary: "called about the 李 order"}) { position } }',
            {"id": cid},
            "support",
        )
        await graphql(
            http,
            live,
            'mutation($id: ID!) { tagCustomer(input: {customerId: $id, add: ["x"]}) { position } }',
            {"id": other["registerCustomer"]["customer"]["id"]},
            "sales",
        )
        await to_thread.run_sync(live.publish)
        seen = await next_event(admin, "crm.customer.contact_touch_recorded")
        assert seen["position"] == touched["recordContactTouch"]["position"]
        assert seen["customerId"] == cid and seen["actor"] == "support-user"
        assert json.loads(seen["data"])["summary"] == "called about the 李 order"
        redacted = await next_event(analyst, "crm.customer.contact_touch_recorded")
        assert redacted["position"] == seen["position"]
        data = json.loads(redacted["data"])
        assert data["summary"] is None and data["channel"] == "PHONE"
        reads = delivered_reads(live, cid)
        assert {(r.actor, r.role) for r in reads} == {("admin-user", "admin")}, "not the analyst"
        assert "summary" in {f for r in reads for f in r.fields}
    finally:
        await admin.close()
        await analyst.close()


def delivered_reads(live: Live, cid: str) -> list[AccessRecord]:
    """The access log's rows for personal data the subscriptions delivered."""
    log = live.gw.deps.access_log
    assert log is not None
    log.flush()
    records = access_history(live.gw.deps.app, UUID(cid))
    return [r for r in records if r.operation == "graphql:customerEvents"]


async def test_a_connection_without_a_valid_token_is_closed(live: Live) -> None:
    absurd = jwt.encode(
        {"sub": "x", "role": "admin", "exp": 10**12}, live.gw.secret, algorithm="HS256"
    )
    bad = ("nonsense", absurd)  # absurd: exp = 10**12 once crashed the connection
    for payload in ({}, *({"Authorization": f"Bearer {token}"} for token in bad)):
        ws = await connect(f"ws://{live.url}/graphql", subprotocols=["graphql-transport-ws"])
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_subscribing_before_connection_init_is_refused(live: Live) -> None:
    ws = await connect(f"ws://{live.url}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


REMINDERS = "subscription { taskReminders { taskId customerId kind dueAt at position title } }"


async def open_reminders(live: Live, token: str) -> ClientConnection:
    ws = await connect(f"ws://{live.url}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert ack["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": REMINDERS}}))
    return ws


async def test_a_task_falling_due_reminds_its_assignee_only(
    live: Live, http: httpx.AsyncClient
) -> None:
    registered = await graphql(
        http, live,
        'mutation { registerCustomer(input: {name: "Due Du", owner: "sales-user"}) '
        "{ customer { id } } }",
        {}, "admin",
    )  # fmt: skip
    cid = registered["registerCustomer"]["customer"]["id"]
    now = datetime.now(UTC)
    scheduled = await graphql(
        http,
        live,
        "mutation($i: ScheduleTaskInput!) { scheduleTask(input: $i) { task { id } } }",
        {
            "i": {
                "customerId": cid,
                "kind": "CALL_BACK",
                "title": "ring back about the 李 order",
                "assignee": "amy",
                "occurredAt": (now - timedelta(hours=2)).isoformat(),
                "dueAt": (now - timedelta(hours=1)).isoformat(),
            }
        },
        "sales",
    )
    task_id = scheduled["scheduleTask"]["task"]["id"]
    amy = await open_reminders(live, live.gw.token("sales", "amy"))
    bob = await open_reminders(live, live.gw.token("sales", "bob"))
    try:
        await wait_until_listening(live, 2)

        def tick() -> None:
            with psycopg.connect(live.gw.database_url, autocommit=True) as conn:
                assert mark_due_tasks(conn, live.gw.deps.service, datetime.now(UTC)).marked == 1
            live.publish()

        await to_thread.run_sync(tick)
        message = json.loads(await asyncio.wait_for(amy.recv(), 15))
        assert message["type"] == "next", message
        reminder = message["payload"]["data"]["taskReminders"]
        assert (reminder["taskId"], reminder["customerId"], reminder["kind"]) == (
            task_id,
            cid,
            "CALL_BACK",
        )
        assert reminder["title"] == "ring back about the 李 order"
        hub = live.gw.deps.live
        assert hub is not None
        assert all(s.queue.empty() for s in hub.subscribers), "bob's reminder queue stays empty"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bob.recv(), 1.0)
    finally:
        await amy.close()
        await bob.close()


TOUCH = (
    "mutation($id: ID!) { recordContactTouch(input: {customerId: $id, channel: PHONE}) "
    "{ position } }"
)


@pytest.mark.parametrize(
    ("role", "subject"),
    [("sales", "sales-user"), ("support", "support-user"), ("manager", "manager-user")],
)
async def test_a_scoped_subscriber_receives_nothing_of_another_team(
    live: Live, http: httpx.AsyncClient, role: str, subject: str
) -> None:
    """Team West's customer: its events never reach the test team's rep, support agent or
    manager, and subscribing to it by id is NOT_FOUND; their own team's events arrive."""
    for name, given in (
        ("defineDepartment", {"department": "West"}),
        ("defineTeam", {"team": "West team", "department": "West"}),
        ("addTeamMember", {"team": "West team", "member": "cat"}),
    ):
        await graphql(http, live, f"mutation($i: {name[0].upper()}{name[1:]}Input!) "
                      f"{{ {name}(input: $i) {{ position }} }}", {"i": given}, "admin")  # fmt: skip
    register = (
        'mutation($o: String) { registerCustomer(input: {name: "W", owner: $o}) '
        "{ customer { id } } }"
    )
    west = (await graphql(http, live, register, {"o": "cat"}, "admin"))["registerCustomer"]
    ours = (await graphql(http, live, register, {"o": "sales-user"}, "admin"))["registerCustomer"]
    west_id, our_id = west["customer"]["id"], ours["customer"]["id"]
    token = live.gw.token(role, subject)
    by_id = await open_subscription(live, token, west_id)
    try:
        answer = json.loads(await asyncio.wait_for(by_id.recv(), 10))
        assert answer["type"] in {"error", "next"}, answer
        assert "NOT_FOUND" in json.dumps(answer)
        payload = answer["payload"]
        assert isinstance(payload, list) or not (payload.get("data") or {}).get("customerEvents")
    finally:
        await by_id.close()
    everything = await open_subscription(live, token, None)
    try:
        await wait_until_listening(live, 1)
        await graphql(http, live, TOUCH, {"id": west_id}, "admin")
        mine = await graphql(http, live, TOUCH, {"id": our_id}, "admin")
        await to_thread.run_sync(live.publish)
        wanted = mine["recordContactTouch"]["position"]
        while True:  # earlier in-scope events may come first; the other team's never
            seen = await next_event(everything, "crm.customer.")
            assert seen["customerId"] != west_id, "another team's event was delivered"
            if seen["position"] == wanted:
                assert seen["customerId"] == our_id
                break
    finally:
        await everything.close()


async def test_a_message_not_from_the_relay_neither_reaches_nor_ends_a_subscription(
    live: Live, http: httpx.AsyncClient, servers: ServerSet
) -> None:
    """A stray or forged message on the topic (no ``crm-sig``) is skipped: it used to end
    every live subscription with INTERNAL "Unexpected error." and, complete, would have
    been delivered as if it were the customer's event."""
    from kafka import KafkaProducer

    registered = await graphql(
        http,
        live,
        'mutation { registerCustomer(input: {name: "Forge Target", owner: "sales-user"}) '
        "{ customer { id } } }",
        {},
        "admin",
    )
    cid = registered["registerCustomer"]["customer"]["id"]
    ws = await open_subscription(live, live.gw.token("admin"), cid)
    try:
        await wait_until_listening(live, 1)
        forged = {
            "specversion": "1.0",
            "id": "00000000-0000-0000-0000-000000000001",
            "type": "crm.customer.contact_touch_recorded.v3",
            "source": "forger",
            "subject": cid,
            "time": "2026-01-01T00:00:00+00:00",
            "data": {"channel": "PHONE", "summary": "FORGED"},
        }

        def send_forged() -> None:
            producer = KafkaProducer(bootstrap_servers=servers.kafka_bootstrap)
            producer.send(live.relay.topic, key=cid.encode(), value=json.dumps(forged).encode())
            producer.flush(10)
            producer.close(5)

        await to_thread.run_sync(send_forged)
        touched = await graphql(
            http,
            live,
            "mutation($id: ID!) { recordContactTouch(input: {customerId: $id, channel: EMAIL}) "
            "{ position } }",
            {"id": cid},
            "admin",
        )
        await to_thread.run_sync(live.publish)
        seen = await next_event(ws, "crm.customer.contact_touch_recorded")
        assert seen["position"] == touched["recordContactTouch"]["position"]
        assert json.loads(seen["data"])["channel"] == "EMAIL"
    finally:
        await ws.close()
