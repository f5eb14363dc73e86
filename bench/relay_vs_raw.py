"""The relay beside raw aiokafka produce alone (no rebuild): `crm bench streams`'s relay
half, quicker to repeat while working on the relay.

`python -m bench.relay_vs_raw [CUSTOMERS] [REPEATS]` (defaults 1000 and 3) on embedded
servers; `PROFILE=path` writes a pyinstrument profile of the last relay run. Each repeat
runs the relay onto a new topic, then raw aiokafka produce of the same messages (built off
the clock), and prints both rates and their ratio with the load average.
"""

from __future__ import annotations

import os
import sys

from bench.history import seed_history
from bench.raw_kafka import raw_produce
from bench.server import bench_broker, bench_server, new_topic, scratch_database
from bench.stats import Run
from bench.streams_bench import PARTITIONS, messages_of
from bench.timing import timed
from bootstrap import open_store
from commands.crypto import generate_master_key
from streams.relay import Relay
from streams.topic import ensure_topic


def relay_run(relay: Relay, profile: str | None) -> Run:
    if not profile:
        return timed(relay.publish_available)
    from pyinstrument import Profiler

    profiler = Profiler()
    profiler.start()
    try:
        return timed(relay.publish_available)
    finally:
        profiler.stop()
        with open(profile, "w") as out:
            out.write(profiler.output_text(unicode=False, color=False))


def main(customers: int, repeats: int, profile: str | None) -> None:
    key = generate_master_key()
    with (
        bench_server(None) as server,
        bench_broker(None) as bootstrap,
        scratch_database(server, "relay_vs_raw") as url,
    ):
        seed_history(url, key, customers=customers)
        app = open_store(url, key, kind="bench")
        try:
            messages = messages_of(app)
            print(f"{len(messages):,} events, load {os.getloadavg()[0]:.1f}", flush=True)
            for repeat in range(repeats):
                topic = new_topic("bench.relay")
                ensure_topic(bootstrap, topic, PARTITIONS)
                relay = Relay(app, url, bootstrap, topic, partitions=PARTITIONS)
                try:
                    ours = relay_run(relay, profile if repeat == repeats - 1 else None)
                finally:
                    relay.close()
                raw_topic = new_topic("bench.raw")
                ensure_topic(bootstrap, raw_topic, PARTITIONS)
                raw = raw_produce(bootstrap, raw_topic, messages)
                a, b = ours.units / ours.seconds, raw.units / raw.seconds
                print(
                    f"repeat {repeat + 1}: relay {a:,.0f} ev/s, raw aiokafka {b:,.0f} ev/s, "
                    f"ratio {a / b:.2f}, load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        finally:
            app.close()


if __name__ == "__main__":
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    main(customers, repeats, os.environ.get("PROFILE"))
