"""When a worker's held partition counts as stalled (`streams.stall_watch`): behind its
end with the group's committed offset unchanged for the whole stall time, and only then."""

from __future__ import annotations

from streams.stall_watch import Progress, StallWatch


def look(watch: StallWatch, at: float, **held: tuple[int | None, int]) -> list[int]:
    return watch.stalled(at, {int(p[1:]): Progress(*v) for p, v in held.items()})


def test_a_partition_behind_and_unchanged_for_the_stall_time_is_stalled() -> None:
    watch = StallWatch(stall_seconds=30, check_seconds=5)
    for at in range(0, 30, 5):
        assert look(watch, at, p0=(10, 50), p1=(40, 40)) == []
    assert look(watch, 30, p0=(10, 50), p1=(40, 40)) == [0]


def test_progress_restarts_the_clock_and_a_caught_up_partition_never_stalls() -> None:
    watch = StallWatch(stall_seconds=30, check_seconds=5)
    committed = 10
    for at in range(0, 120, 5):
        committed += 1 if at % 25 == 0 else 0  # slow, but moving
        assert look(watch, at, p0=(committed, 500), p1=(7, 7)) == []


def test_nothing_committed_yet_counts_from_the_first_look() -> None:
    watch = StallWatch(stall_seconds=30, check_seconds=5)
    for at in range(0, 30, 5):
        assert look(watch, at, p2=(None, 9)) == []
    assert look(watch, 30, p2=(None, 9)) == [2]
    assert look(watch, 35, p2=(None, 0)) == []  # an empty partition is never behind


def test_a_pause_of_the_process_is_not_judged_a_stall() -> None:
    watch = StallWatch(stall_seconds=30, check_seconds=5)
    assert look(watch, 0, p0=(10, 50)) == []
    # Stopped (or starved) for a minute: the clock starts again at the next look.
    for at in range(60, 90, 5):
        assert look(watch, at, p0=(10, 50)) == []
    assert look(watch, 90, p0=(10, 50)) == [0]


def test_a_partition_given_away_and_back_starts_afresh() -> None:
    watch = StallWatch(stall_seconds=30, check_seconds=5)
    for at in range(0, 25, 5):
        look(watch, at, p0=(10, 50), p1=(3, 9))
    assert look(watch, 25, p1=(3, 9)) == []  # a rebalance took partition 0
    assert look(watch, 30, p0=(10, 50), p1=(3, 9)) == [1]  # 1 stalled; 0 is new again
