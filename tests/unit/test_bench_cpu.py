"""The CPU-per-request figures a report gives for each part of a run."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil

from bench.cpu import (
    budget_at,
    cores_used,
    describe,
    machine_cores,
    median_parts,
    own_cpu_seconds,
    per_request_ms,
    process_cpu_seconds,
    tree_cpu_seconds,
)


def test_cpu_per_request_is_the_difference_over_the_requests() -> None:
    before = {"gateway": 10.0, "load generator": 4.0}
    after = {"gateway": 12.5, "load generator": 5.0}
    assert per_request_ms(before, after, 500) == {"gateway": 5.0, "load generator": 2.0}
    assert per_request_ms(before, after, 0) == {"gateway": 0.0, "load generator": 0.0}


def test_the_repeats_median_and_the_cores_a_rate_keeps_busy() -> None:
    runs = [{"gateway": 6.0, "PostgreSQL": 1.0}, {"gateway": 7.0, "PostgreSQL": 3.0},
            {"gateway": 6.5, "PostgreSQL": 1.2}]  # fmt: skip
    assert median_parts(runs) == {"gateway": 6.5, "PostgreSQL": 1.2}
    assert median_parts([]) == {}
    assert cores_used({"gateway": 6.5, "PostgreSQL": 1.2}, 140) == {
        "gateway": 0.91,
        "PostgreSQL": 0.17,
    }
    line = describe("list", {"gateway": 6.5}, 140)
    assert line == "list at 140 req/s, CPU per request: gateway 6.50 ms (0.91 cores)"


def test_a_budget_says_whether_a_rate_fits_the_machine_and_each_single_process() -> None:
    per_request = {"gateway": 1.9, "PostgreSQL": 0.66, "load generator": 0.26}
    single = ("gateway", "load generator")
    tight = budget_at(per_request, 1300, 2, single, "gateway")
    assert tight.cores_needed == 3.67  # 2.82 ms a request at 1,300/s
    assert tight.single_cores == {"gateway": 2.47, "load generator": 0.34}
    assert not tight.fits
    # PostgreSQL and the clients need 1.20 of the 2 cores: 0.80 left, 0.62 ms a request
    assert tight.room_ms == 0.62
    assert tight.sentence("360°") == (
        "360° at 1,300 req/s would need 3.67 cores of this machine's 2 (gateway 2.47 of its "
        "1, load generator 0.34 of its 1): it does not fit this machine; the other parts "
        "leave the gateway 0.62 ms a request"
    )
    # with room on the machine, a single process still has only its one core
    assert budget_at(per_request, 100, 8, single, "gateway").room_ms == 10.0
    # not single: (8 - 0.092) cores / 100 req/s
    assert budget_at(per_request, 100, 8, (), "gateway").room_ms == 79.08
    # other parts needing the whole machine leave nothing, never less
    crowded = {"gateway": 1.0, "PostgreSQL": 3.0}
    assert budget_at(crowded, 1000, 2, single, "gateway").room_ms == 0
    assert budget_at(per_request, 1300, 2, single).room_ms is None  # no part under test
    # the machine has the cores, but one process would need more than its one
    assert not budget_at(per_request, 600, 4, single).fits  # the gateway: 1.14 cores
    assert budget_at(per_request, 600, 4, ()).fits
    assert budget_at(per_request, 300, 2, single).fits  # 0.85 cores, gateway 0.57
    assert budget_at(per_request, 300, 2, single).cores_needed == 0.85
    assert 1 <= machine_cores() <= (os.cpu_count() or 1)


def test_cpu_seconds_count_work_done_and_a_gone_process_counts_nothing() -> None:
    start = own_cpu_seconds()
    sum(i * i for i in range(300_000))
    assert own_cpu_seconds() > start
    assert tree_cpu_seconds(psutil.Process(os.getpid())) >= own_cpu_seconds() - 0.05
    assert tree_cpu_seconds(None) == 0.0
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    watched = psutil.Process(child.pid)
    child.wait()
    assert tree_cpu_seconds(watched) == 0.0


def test_own_cpu_seconds_see_work_shorter_than_a_clock_tick() -> None:
    """A tiny bench's load generator does a few ms of work in all: counted in clock ticks
    (10 ms) it showed 0 ms a request."""
    for _ in range(5):
        start = own_cpu_seconds()
        sum(i * i for i in range(5_000))  # well under a millisecond
        assert own_cpu_seconds() > start


def test_another_process_cpu_counts_work_shorter_than_a_clock_tick() -> None:
    """A tiny bench's gateway spends about one clock tick (10 ms) on all its
    `{ __typename }` requests; counted in ticks, it showed 0 ms a request by chance. A
    thread that has ended still counts."""
    script = (
        "import sys, threading\n"
        "work = lambda: sum(i * i for i in range(20_000))\n"  # ~1 ms
        "for line in sys.stdin:\n"
        "    thread = threading.Thread(target=work); thread.start(); thread.join()\n"
        "    print(flush=True)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write("\n"), child.stdin.flush(), child.stdout.readline()  # started
        for _ in range(5):
            before = process_cpu_seconds(child.pid)
            child.stdin.write("\n")
            child.stdin.flush()
            child.stdout.readline()
            assert process_cpu_seconds(child.pid) > before
    finally:
        child.stdin.close()
        child.wait()
