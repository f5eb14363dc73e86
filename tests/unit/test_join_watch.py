"""The join watch (`streams.join_watch`): a worker the group never takes in is told once;
one taken in, or stopped, is not."""

from __future__ import annotations

import threading

from streams.join_watch import MAX_DOUBLINGS, JoinPatience, JoinWatch


def watch_for(within: float) -> tuple[JoinWatch, threading.Event]:
    told = threading.Event()
    watch = JoinWatch(told.set, within=within)
    watch.start()
    return watch, told


def test_a_join_that_never_comes_is_told_once_the_time_is_up() -> None:
    _, told = watch_for(0.5)
    assert not told.is_set()  # not before its time
    assert told.wait(2)


def test_a_member_taken_in_in_time_is_not_told() -> None:
    watch, told = watch_for(0.3)
    watch.joined()
    assert not told.wait(0.6)


def test_a_stopped_app_is_not_told() -> None:
    watch, told = watch_for(0.3)
    watch.stop()
    assert not told.wait(0.6)


def test_it_is_told_at_most_once() -> None:
    calls: list[int] = []
    watch = JoinWatch(lambda: calls.append(1), within=0.05)
    watch.start()
    watch._thread.join(2)
    watch.joined()  # a late join changes nothing
    assert calls == [1]


def test_it_says_whether_the_group_took_the_app_in() -> None:
    watch = JoinWatch(lambda: None, within=5)
    watch.start()
    watch.stop()
    assert not watch.taken_in  # stopped is not taken in
    watch.joined()
    assert watch.taken_in


def test_patience_doubles_for_each_late_join_in_a_row_and_resets_on_one_in_time() -> None:
    patience = JoinPatience(0.5)
    assert patience.within == 0.5
    patience.missed()
    patience.missed()
    assert patience.within == 2.0
    for _ in range(10):
        patience.missed()
    assert patience.within == 0.5 * 2**MAX_DOUBLINGS  # bounded
    patience.joined()
    assert patience.within == 0.5
