"""The bench's HTTP load: every body sent once, each client's in order, with the headers
given; an answer with errors stops the run. Against a real local HTTP server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from bench.load import RequestFailed, play, repeat_for_clients

Seen = list[tuple[str | None, dict[str, Any]]]


@pytest.fixture
def server() -> Iterator[tuple[str, Seen]]:
    seen: Seen = []
    loop = asyncio.new_event_loop()

    async def graphql(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append((request.headers.get("Authorization"), body))
        if body.get("query") == "{ broken }":
            return web.json_response({"errors": [{"message": "no"}]})
        return web.json_response({"data": {"__typename": "Query"}})

    app = web.Application()
    app.router.add_post("/graphql", graphql)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/graphql", seen
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_every_body_is_sent_in_order_per_client_with_the_headers(
    server: tuple[str, Seen],
) -> None:
    url, seen = server
    bodies = [{"query": "{ __typename }", "variables": {"n": n}} for n in range(30)]
    per_client = repeat_for_clients(bodies, 4, 30)
    run = asyncio.run(play(url, {"Authorization": "Bearer t"}, per_client))
    assert run.units == 30 and len(run.latencies) == 30 and run.seconds > 0
    timed = [body for _, body in seen if "variables" in body]  # the warm-ups have none
    assert sorted(b["variables"]["n"] for b in timed) == list(range(30))
    for client in per_client:  # each client's bodies arrive in its order
        mine = [b["variables"]["n"] for b in timed if b in client]
        assert mine == [b["variables"]["n"] for b in client]
    assert {auth for auth, _ in seen} == {"Bearer t"}


def test_an_answer_with_errors_fails_the_run(server: tuple[str, Seen]) -> None:
    url, _ = server
    with pytest.raises(RequestFailed, match="no"):
        asyncio.run(play(url, {}, [[{"query": "{ __typename }"}, {"query": "{ broken }"}]]))
