"""CPU per request of each part of a run on this machine, so a report says what bounds a
rate: the server under test, PostgreSQL, or the benchmark's own HTTP clients.

On 2 cores the three share the machine. A part at about one core (its cores figure near
1.0) is the bound for a single-process part (the gateway, the load generator); below
that, the machine as a whole is.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil
import psycopg

if TYPE_CHECKING:
    from bench.processes import BenchPlatform

Parts = dict[str, float]
"""CPU seconds used so far, per part."""


def own_cpu_seconds() -> float:
    """This process's (the load generator's) CPU seconds, threads included, children not.
    `time.process_time` reads the kernel's per-process clock to the nanosecond; psutil's
    times of a process count clock ticks (10 ms), and a tiny run's load generator spent
    less than one: 0 ms a request, where it spends ~0.2."""
    return time.process_time()


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds process `pid` has used, all its threads (also those gone), children not.

    On Linux this reads the process's own CPU clock (`clock_getcpuclockid(3)`: the clock id
    is the pid's complement shifted by three, with CPUCLOCK_SCHED), which counts to the
    nanosecond; psutil's times count clock ticks of 10 ms, and a tiny run's gateway spends
    about one tick on its `{ __typename }` requests: 0 or 0.25 ms a request by chance."""
    if sys.platform == "linux":
        try:
            return time.clock_gettime((~pid << 3) | 2)
        except OSError:  # gone, or a kernel without per-process clocks: psutil tells
            pass
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def postmaster(database_url: str) -> psutil.Process | None:
    """The server's main process, when it runs on this host (None: another host, or a
    PID namespace of its own)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        try:  # while the backend lives: it exits with the connection
            return psutil.Process(int(row[0]) if row else -1).parent()
        except psutil.Error:
            return None


def tree_cpu_seconds(process: psutil.Process | None) -> float:
    """CPU seconds of `process` and of all its children, those alive now and those it
    has reaped (a PostgreSQL server: every backend, also of connections since closed)."""
    if process is None:
        return 0.0
    try:
        own = process.cpu_times()
        children = process.children(recursive=True)
    except psutil.Error:
        return 0.0
    total = own.user + own.system + own.children_user + own.children_system
    for child in children:
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue  # exited since the listing: its time is in the reaped ones next time
        total += times.user + times.system
    return total


def per_request_ms(before: Parts, after: Parts, requests: int) -> Parts:
    """CPU ms a request cost each part between two samples."""
    return {
        part: round((after[part] - before[part]) * 1000 / requests, 3) if requests else 0.0
        for part in before
        if part in after
    }


def median_parts(samples: Sequence[Parts]) -> Parts:
    """Each part's median over the repeats."""
    parts = samples[0].keys() if samples else ()
    return {part: round(statistics.median(s[part] for s in samples), 3) for part in parts}


def cores_used(per_request: Mapping[str, float], rate: float) -> Parts:
    """How many cores each part kept busy at `rate` requests/s."""
    return {part: round(ms * rate / 1000, 2) for part, ms in per_request.items()}


@dataclass(frozen=True)
class Budget:
    """Whether this machine has the CPU for a query at `rate` requests/s, from the CPU a
    request cost each part when measured (per-request costs taken as constant).

    `cores_needed` is the sum over the parts; `machine_cores` what the machine has.
    `single` names the single-process parts (one interpreter: one core at most each),
    and `single_cores` what each of them would need on its own."""

    rate: float
    cores_needed: float
    machine_cores: int
    single_cores: Mapping[str, float]
    under_test: str | None = None
    room_ms: float | None = None
    """The most CPU a request the part under test could spend at `rate`, with what the
    other parts need taken off the machine (and one core at most if it is single)."""

    @property
    def fits(self) -> bool:
        return self.cores_needed <= self.machine_cores and all(
            cores <= 1.0 for cores in self.single_cores.values()
        )

    def sentence(self, label: str) -> str:
        over = [f"{part} {cores:.2f} of its 1" for part, cores in self.single_cores.items()]
        verdict = "fits" if self.fits else "does not fit"
        room = (
            f"; the other parts leave the {self.under_test} {self.room_ms:.2f} ms a request"
            if self.under_test and self.room_ms is not None
            else ""
        )
        return (
            f"{label} at {self.rate:,.0f} req/s would need {self.cores_needed:.2f} cores of this "
            f"machine's {self.machine_cores} ({', '.join(over)}): it {verdict} this machine{room}"
        )


def budget_at(
    per_request: Mapping[str, float],
    rate: float,
    machine_cores: int,
    single: Sequence[str] = (),
    under_test: str | None = None,
) -> Budget:
    """The CPU `rate` requests/s would take at the measured cost of each part, and what
    that leaves the part `under_test`."""
    cores = {part: ms * rate / 1000 for part, ms in per_request.items()}
    needed = sum(cores.values())
    room = None
    if under_test in cores and rate > 0:
        free = machine_cores - (needed - cores[under_test])
        if under_test in single:
            free = min(free, 1.0)
        room = round(max(free, 0.0) * 1000 / rate, 2)
    return Budget(
        rate=round(rate, 1),
        cores_needed=round(needed, 2),
        machine_cores=machine_cores,
        single_cores={part: round(cores[part], 2) for part in single if part in cores},
        under_test=under_test if room is not None else None,
        room_ms=room,
    )


def machine_cores() -> int:
    """The cores this process may run on (the affinity mask, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def describe(
    label: str,
    per_request: Mapping[str, float],
    rate: float,
    rate_unit: str = "req/s",
    per: str = "request",
) -> str:
    """One line of a report: the CPU each part spent per request, and the cores it used."""
    cores = cores_used(per_request, rate)
    parts = ", ".join(
        f"{part} {ms:.2f} ms ({cores[part]:.2f} cores)" for part, ms in per_request.items()
    )
    return f"{label} at {rate:,.0f} {rate_unit}, CPU per {per}: {parts}"


def process_and_server(server: psutil.Process | None, label: str) -> Parts:
    """CPU seconds so far of this process (named `label`: a loop it runs, the bench's
    clients) and of PostgreSQL on this host."""
    return {label: own_cpu_seconds(), "PostgreSQL": tree_cpu_seconds(server)}


def platform_meter(platform: BenchPlatform, server: psutil.Process | None) -> Callable[[], Parts]:
    """CPU seconds so far of each of the platform's processes (by name), of PostgreSQL
    and of this process (the load generator)."""

    def used() -> Parts:
        return {**platform.cpu_seconds(), **process_and_server(server, "load generator")}

    return used
