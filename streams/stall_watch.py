"""A worker that holds a partition yet makes no progress on it: seen, and ended by a rejoin.

After a rebalance under load, a faust member was seen holding a partition with a backlog
and fetching nothing from it until the next rebalance (docs/streams.md, "Widening a live
topic"; it looks like faust-streaming issue 629). Nothing failed, so nothing restarted it,
and that partition's customers stopped reaching the read models. So each worker asks the
broker, every `CHECK_SECONDS`, for its group's committed offset and the end offset of each
partition it holds: a partition whose committed offset stays below its end, unchanged, for
`STALL_SECONDS` is stalled, and the worker rejoins its group in place (a new faust app,
as after a broker loss; `streams.processor.GenerationSwitch`).

Committed offsets move only once a batch is applied (`streams.processor`), at least every
second while events flow, so a working member never looks stalled; a batch that fails ends
the process anyway. A process that was not running for a while (stopped, or starved of CPU
longer than a few checks) forgets what it saw instead of judging the pause as a stall; so
does one whose batch has been written for a whole check (waiting on a lock in PostgreSQL,
or on a slow database): its consumer is not the stuck part, and a rejoin would only wait
for that batch and then cost a process restart (`processor.SWITCH_STOP_TIMEOUT_S`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CHECK_SECONDS = 5.0
STALL_SECONDS = 30.0


@dataclass(frozen=True)
class Progress:
    """A held partition as the broker sees it: the group's committed offset (None: nothing
    committed yet) and the partition's end offset."""

    committed: int | None
    end: int

    @property
    def behind(self) -> bool:
        return (self.committed or 0) < self.end


class StallWatch:
    """Says which held partitions made no progress for `stall_seconds` while behind."""

    def __init__(
        self, stall_seconds: float = STALL_SECONDS, check_seconds: float = CHECK_SECONDS
    ) -> None:
        self.stall_seconds = stall_seconds
        self.check_seconds = check_seconds
        self._since: dict[int, tuple[int | None, float]] = {}  # partition: (committed, since)
        self._last_look: float | None = None

    def stalled(
        self, now: float, held: Mapping[int, Progress], *, applying_since: float | None = None
    ) -> list[int]:
        """The partitions of `held` stalled at `now` (monotonic seconds). `applying_since`:
        when the batch being written now began (None: none is); one that has taken a whole
        check so far holds every partition back, so the clocks start again after it."""
        paused = self._last_look is not None and now - self._last_look > 3 * self.check_seconds
        stuck_in_batch = applying_since is not None and now - applying_since >= self.check_seconds
        if paused or stuck_in_batch:
            self._since.clear()  # not the consumer's stall: no judgement on this time
        self._last_look = now
        if stuck_in_batch:
            return []
        since: dict[int, tuple[int | None, float]] = {}
        for partition, progress in held.items():
            seen = self._since.get(partition)
            if not progress.behind or seen is None or seen[0] != progress.committed:
                since[partition] = (progress.committed, now)
            else:
                since[partition] = seen
        self._since = since  # a partition no longer held is forgotten
        return sorted(
            partition
            for partition, (_, first) in since.items()
            if held[partition].behind and now - first >= self.stall_seconds
        )
