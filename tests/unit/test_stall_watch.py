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


def test_a_batch_written_for_a_whole_check_holds_the_clock_back() -> None:
    watch = StallWatch(stall_seconds=30, check_seconds=5)
    # One batch waits on a lock in PostgreSQL from t=0 to t=40: every partition waits with it.
    for at in range(0, 45, 5):
        assert watch.stalled(at, {0: Progress(10, 50)}, applying_since=0.0) == []
    # After it, the clock starts again: 30 s more without progress is a stall.
    for at in range(45, 75, 5):
        assert look(watch, at, p0=(10, 50)) == []
    assert look(watch, 75, p0=(10, 50)) == [0]


def test_short_batches_on_one_partition_do_not_hide_a_stall_on_another() -> None:
    watch = StallWatch(stall_seconds=30, check_seconds=5)
    committed = 100
    for at in range(0, 30, 5):
        committed += 20  # partition 1 moves; each look lands in one of its short batches
        held = {0: Progress(10, 50), 1: Progress(committed, 1000)}
        assert watch.stalled(at, held, applying_since=at - 0.05) == []
    held = {0: Progress(10, 50), 1: Progress(committed + 20, 1000)}
    assert watch.stalled(30, held, applying_since=29.95) == [0]
