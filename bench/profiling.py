"""Profile the slowest paths with pyinstrument: `python -m bench.profiling [CUSTOMERS]`.

Seeds a demo history on throwaway embedded servers, then profiles, one after the
other, the relay publishing it, a full rebuild, and the projections sink applying it
in the processor's batch size (what `crm worker projections` does per batch). Writes
`bench/results/profile-<part>.txt` and prints the top of each; `bench/NOTES.md` says
what they showed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from bench import RESULTS_DIR
from bench.history import seed_history
from bench.server import bench_broker, bench_server, new_topic, scratch_database
from bootstrap import open_store
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from streams.rebuild import rebuild
from streams.relay import Relay
from streams.sink import ReadModelSink
from streams.source import EventSource


def profiled(name: str, work: Callable[[], object], out_dir: Path) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    work()
    profiler.stop()
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"profile-{name}.txt").write_text(text)
    print(f"--- {name} ---")
    print("\n".join(text.splitlines()[:60]))


def apply_like_the_worker(app: CrmApplication, url: str, batch: int = 500) -> int:
    """Every event through `ReadModelSink` in the processor's batches (no Kafka: the
    envelopes are read from the store, as the relay would have sent them)."""
    sink, source, position, applied = ReadModelSink(app, url), EventSource(app), 0, 0
    try:
        while (found := source.read_after(position, batch)).envelopes:
            sink(found.envelopes)
            position, applied = found.last_position, applied + len(found.envelopes)
    finally:
        sink.close()
    return applied


def main(customers: int = 1000) -> None:
    key = generate_master_key()
    with (
        bench_server(None) as server,
        bench_broker(None) as bootstrap,
        scratch_database(server, "bench_profile") as url,
    ):
        seed_history(url, key, customers=customers)
        app = open_store(url, key, kind="bench")
        try:
            relay = Relay(app, url, bootstrap, new_topic("bench.profile"))
            try:
                profiled("relay", relay.publish_available, RESULTS_DIR)
            finally:
                relay.close()
            # A fresh rebuild first: the sink then re-applies with checkpoints in place,
            # so its profile shows the worker's fixed per-batch costs.
            # In this process (workers=1) so the profile sees the replay, not a wait.
            profiled("rebuild", lambda: rebuild(app, url, workers=1), RESULTS_DIR)
            profiled("worker-sink", lambda: apply_like_the_worker(app, url), RESULTS_DIR)
        finally:
            app.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
