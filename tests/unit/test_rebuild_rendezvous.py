"""The wait between a parallel rebuild's rounds: everyone or nobody goes on."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from streams.rebuild_shadow import split_by_size
from streams.rebuild_workers import POLL_S, RebuildFailed, Rendezvous


def test_the_last_worker_to_arrive_lets_every_worker_on() -> None:
    rendezvous = Rendezvous.make(multiprocessing.get_context("forkserver"), parts=3)
    passed: list[int] = []

    def worker(k: int) -> None:
        rendezvous.wait(lambda: True)
        passed.append(k)

    early = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for thread in early:
        thread.start()
    time.sleep(3 * POLL_S)
    assert passed == [], "nobody goes on before the last partition is in"
    worker(2)
    for thread in early:
        thread.join(5)
    assert sorted(passed) == [0, 1, 2]


def test_a_worker_whose_caller_died_stops_waiting() -> None:
    rendezvous = Rendezvous.make(multiprocessing.get_context("forkserver"), parts=2)
    started = time.monotonic()
    with pytest.raises(RebuildFailed, match="parent process is gone"):
        rendezvous.wait(lambda: time.monotonic() - started < 2 * POLL_S)
    assert time.monotonic() - started < 10 * POLL_S


def test_the_fork_server_preloads_every_package_of_the_project() -> None:
    """Workers run the caller's main module again; its imports are cached in the fork
    server only for packages `PROJECT_PACKAGES` names."""
    import tomllib
    from pathlib import Path

    from streams.rebuild_workers import PROJECT_PACKAGES

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    packages = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["packages"]["find"]
    assert {p.rstrip("*") for p in packages["include"]} == PROJECT_PACKAGES


def test_a_second_meeting_waits_for_every_worker_again() -> None:
    """The workers meet after replaying and again after analyzing their shares: the
    first to finish its share must not start round two alone."""
    rendezvous = Rendezvous.make(multiprocessing.get_context("forkserver"), parts=2)
    passed: list[str] = []

    def worker() -> None:
        rendezvous.wait(lambda: True)
        passed.append("first")
        rendezvous.wait(lambda: True)
        passed.append("second")

    other = threading.Thread(target=worker)
    other.start()
    rendezvous.wait(lambda: True)
    time.sleep(3 * POLL_S)
    assert passed == ["first"], "the other worker waits at the second meeting"
    rendezvous.wait(lambda: True)
    other.join(5)
    assert passed == ["first", "second"]


def test_the_analyze_shares_are_balanced_and_the_same_in_every_process() -> None:
    sizes = {"timeline": 100, "customers": 60, "applied": 40, "touches": 30, "tasks": 1}
    tables = ["tasks", "applied", "timeline", "touches", "customers", "merges"]
    shares = split_by_size(tables, sizes, 2)
    assert sorted(t for share in shares for t in share) == sorted(tables), "each table once"
    assert [sum(sizes.get(t, 0) for t in share) for share in shares] == [130, 101]
    assert split_by_size(list(reversed(tables)), dict(reversed(sizes.items())), 2) == shares
    assert split_by_size(tables, sizes, 1) == [
        ["timeline", "customers", "applied", "touches", "tasks", "merges"]
    ]
