"""HTTP load for the gateway: `clients` concurrent clients over keep-alive connections.

Closed loop (each client sends its next request when the last one answered), which is
how a pool of screens behaves; throughput is answers per second of wall time, latency
is per request as the client saw it. One asyncio loop drives every client: on two
cores the load generator must stay light, and httpx over one loop is enough to keep a
single gateway process busy (NOTES.md says where it is not).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bench.stats import Run

Body = dict[str, Any]


class RequestFailed(RuntimeError):
    """The gateway answered with an error: a broken benchmark, not a slow one."""


async def _client(
    http: httpx.AsyncClient, url: str, bodies: Sequence[Body], latencies: list[float]
) -> None:
    for body in bodies:
        start = time.perf_counter()
        answer = await http.post(url, json=body)
        latencies.append(time.perf_counter() - start)
        if answer.status_code != 200 or "errors" in answer.json():
            raise RequestFailed(f"{answer.status_code}: {answer.text[:500]}")


async def play(url: str, headers: dict[str, str], per_client: Sequence[Sequence[Body]]) -> Run:
    """Each client sends its own bodies in order; returns requests, seconds, latencies."""
    limits = httpx.Limits(
        max_connections=len(per_client), max_keepalive_connections=len(per_client)
    )
    latencies: list[list[float]] = [[] for _ in per_client]
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as http:
        # One warm request per connection first, so connection set-up is not timed.
        await asyncio.gather(*(http.post(url, json=WARM) for _ in per_client))
        began = time.perf_counter()
        await asyncio.gather(
            *(
                _client(http, url, bodies, lat)
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
