"""HTTP load for the gateway: `clients` concurrent clients over keep-alive connections.

Closed loop (each client sends its next request when the last one answered), which is
how a pool of screens behaves; throughput is answers per second of wall time, latency
is per request as the client saw it. One asyncio loop drives every client, on aiohttp:
on two cores the load generator shares the machine with what it measures, so it must
stay light. httpx cost ~2 ms of client CPU a request: `{ __typename }` stopped at ~490
req/s with the gateway at 0.44 cores, so the baseline measured the client. aiohttp costs
~0.3 ms, and the gateway is the bound (NOTES.md, "CPU per request, per part").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson

from bench.stats import Run

Body = dict[str, Any]
JSON = {"Content-Type": "application/json"}


class RequestFailed(RuntimeError):
    """The gateway answered with an error: a broken benchmark, not a slow one."""


async def _post(session: aiohttp.ClientSession, url: str, body: Body) -> None:
    async with session.post(url, data=orjson.dumps(body), headers=JSON) as answer:
        raw = await answer.read()
        if answer.status != 200 or "errors" in orjson.loads(raw):
            raise RequestFailed(f"{answer.status}: {raw[:500].decode(errors='replace')}")


async def _client(
    session: aiohttp.ClientSession, url: str, bodies: Sequence[Body], latencies: list[float]
) -> None:
    for body in bodies:
        start = time.perf_counter()
        await _post(session, url, body)
        latencies.append(time.perf_counter() - start)


async def play(url: str, headers: dict[str, str], per_client: Sequence[Sequence[Body]]) -> Run:
    """Each client sends its own bodies in order; returns requests, seconds, latencies."""
    latencies: list[list[float]] = [[] for _ in per_client]
    connector = aiohttp.TCPConnector(limit=len(per_client))
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as s:
        # One warm request per connection first, so connection set-up is not timed.
        await asyncio.gather(*(_post(s, url, WARM) for _ in per_client))
        began = time.perf_counter()
        await asyncio.gather(
            *(
                _client(s, url, bodies, lat)
                for bodies, lat in zip(per_client, latencies, strict=True)
            )
        )
        seconds = time.perf_counter() - began
    flat = tuple(value for values in latencies for value in values)
    return Run(len(flat), seconds, flat)


def run_load(url: str, headers: dict[str, str], per_client: Sequence[Sequence[Body]]) -> Run:
    return asyncio.run(play(url, headers, per_client))


def repeat_for_clients(bodies: Sequence[Body], clients: int, requests: int) -> list[list[Body]]:
    """`requests` requests in all, spread over `clients`, cycling through `bodies`."""
    per_client: list[list[Body]] = [[] for _ in range(clients)]
    for n in range(requests):
        per_client[n % clients].append(bodies[n % len(bodies)])
    return per_client


WARM: Body = {"query": "{ __typename }"}
