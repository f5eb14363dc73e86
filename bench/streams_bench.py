"""Streams: the relay and a rebuild, each beside raw aiokafka moving the same messages.

One database holds a demo history (`bench.history`). Each repeat, interleaved:

- relay: `streams.relay.Relay.publish_available()` onto a new topic: read the store in
  position order, build and validate envelopes, produce idempotently, wait for acks,
  keep the bookmark (events/s);
- raw produce: the same keys and values, encoded before the clock starts, with aiokafka;
- rebuild: `streams.rebuild.rebuild` of every projection: shadow tables filled by one
  process per core, then swapped in (events/s);
- raw consume: aiokafka reading the relay's topic from the start.

Target: each of ours at least half of its raw counterpart.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.document import Size, median_rate, now, row, target
from bench.history import seed_history
from bench.raw_kafka import Message, raw_consume, raw_produce
from bench.server import new_topic, scratch_database
from bench.stats import Run, summarise
from bench.timing import timed
from bootstrap import open_store
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from streams.envelope import encode
from streams.rebuild import rebuild
from streams.relay import Relay
from streams.source import EventSource
from streams.topic import ensure_topic

RATIO_TARGET = 0.5
PARTITIONS = 4

Log = Callable[[str], None]


@dataclass(frozen=True)
class StreamsConfig:
    size: Size
    customers: int
    repeats: int

    @classmethod
    def make(cls, size: Size, repeats: int | None = None) -> Any:
        customers, default_repeats = {"tiny": (20, 1), "quick": (300, 1), "full": (4000, 3)}[size]
        return cls(size, customers, repeats or default_repeats)


def messages_of(app: CrmApplication) -> list[Message]:
    """Every event as the relay would send it (key, value), built off the clock."""
    source, position = EventSource(app), 0
    out: list[Message] = []
    while (batch := source.read_after(position, 5000)).envelopes:
        out.extend((e["subject"].encode(), encode(e)) for e in batch.envelopes)
        position = batch.last_position
    return out


def run_streams(server_url: str, bootstrap: str, config: StreamsConfig, log: Log) -> dict[str, Any]:
    started = now()
    key = generate_master_key()
    runs: dict[str, list[Run]] = {"relay": [], "raw_produce": [], "rebuild": [], "raw_consume": []}
    with scratch_database(server_url, "bench_streams") as url:
        log(f"streams: seeding {config.customers:,} customers")
        seeded = seed_history(url, key, customers=config.customers)
        app = open_store(url, key, kind="bench")
        try:
            messages = messages_of(app)
            for repeat in range(config.repeats):
                log(f"streams {repeat + 1}/{config.repeats}: relay, {len(messages):,} events")
                topic = new_topic("bench.relay")
                ensure_topic(bootstrap, topic, PARTITIONS)
                relay = Relay(app, url, bootstrap, topic, partitions=PARTITIONS)
                try:
                    runs["relay"].append(timed(relay.publish_available))
                finally:
                    relay.close()
                log(f"streams {repeat + 1}/{config.repeats}: raw aiokafka produce")
                raw_topic = new_topic("bench.raw")
                ensure_topic(bootstrap, raw_topic, PARTITIONS)
                runs["raw_produce"].append(raw_produce(bootstrap, raw_topic, messages))
                log(f"streams {repeat + 1}/{config.repeats}: rebuild every projection")
                runs["rebuild"].append(timed(lambda: rebuild(app, url, master_key=key)))
                log(f"streams {repeat + 1}/{config.repeats}: raw aiokafka consume")
                runs["raw_consume"].append(raw_consume(bootstrap, topic, len(messages)))
        finally:
            app.close()
    results: dict[str, Any] = {name: summarise(r, "events") for name, r in runs.items()}
    results["seeded"] = {"customers": seeded.customers, "events": seeded.events}
    return document(config, results, started)


def document(config: StreamsConfig, results: dict[str, Any], started: str) -> dict[str, Any]:
    rate = {
        name: median_rate(results[name], "events")
        for name in ("relay", "raw_produce", "rebuild", "raw_consume")
    }
    relay_ratio = rate["relay"] / rate["raw_produce"] if rate["raw_produce"] else 0.0
    rebuild_ratio = rate["rebuild"] / rate["raw_consume"] if rate["raw_consume"] else 0.0
    goal = f"≥ {RATIO_TARGET:.0%} of raw"
    return {
        "benchmark": "streams",
        "size": config.size,
        "config": asdict(config),
        "started_at": started,
        "finished_at": now(),
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
        "summary": [
            row(
                "relay: store → topic",
                rate["relay"],
                "ev/s",
                baseline=rate["raw_produce"],
                target=goal,
                met=relay_ratio >= RATIO_TARGET,
            ),
            row(
                "rebuild: store → read models",
                rate["rebuild"],
                "ev/s",
                baseline=rate["raw_consume"],
                target=goal,
                met=rebuild_ratio >= RATIO_TARGET,
            ),
        ],
        "targets": {
            "relay_vs_raw_produce": target(RATIO_TARGET, relay_ratio),
            "rebuild_vs_raw_consume": target(RATIO_TARGET, rebuild_ratio),
        },
    }
