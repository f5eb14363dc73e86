"""A worker whose consumer group never takes it in: seen, told, and ended by a new join.

A join normally takes about a second (Tansu's `rebalance_timeout` is 3 s, the session
2 s). In full CI runs, both replicas of the projections worker were seen "joining the
consumer group" for a whole minute on a broker other tests had used, with nothing logged
at WARNING, while the analytics replicas on that broker joined at once. No timer of the
app runs before the first assignment (faust starts them after it), so neither the stall
watch nor the heartbeat can see this; a thread of its own does.

After `JOIN_WITHIN_S` without an assignment, the watch calls `overdue` once: the
processor logs every thread's stack (where the join waits) and starts a new faust app in
place (a new member; no process restart, as after a stall, `streams.stall_watch`). Each
miss in a row doubles the next app's wait (`JoinPatience`), up to `MAX_DOUBLINGS`: a join
that is only slow (a big group, a loaded machine) is not cut short forever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

JOIN_WITHIN_S = 25.0
"""Longer than the slowest join measured on this loaded 2-core machine (23.6 s, two
platforms starting in one group), and well inside the 60 s a start is given."""
MAX_DOUBLINGS = 3


class JoinPatience:
    """How long the next app of a process waits for its first assignment: `base`, doubled
    for each join in a row that came too late, back to `base` once one is in time."""

    def __init__(self, base: float = JOIN_WITHIN_S) -> None:
        self.base = base
        self.misses = 0

    @property
    def within(self) -> float:
        return self.base * 2 ** min(self.misses, MAX_DOUBLINGS)

    def missed(self) -> None:
        self.misses += 1

    def joined(self) -> None:
        self.misses = 0


class JoinWatch:
    """Calls `overdue()` from its own thread if `joined()` is not called within `within`
    seconds of `start()`; `stop()` ends the watch (the app stopped)."""

    def __init__(self, overdue: Callable[[], None], within: float = JOIN_WITHIN_S) -> None:
        self.overdue = overdue
        self.within = within
        self._done = threading.Event()
        self.taken_in = False  # the group gave this app partitions (late or not)
        self._thread = threading.Thread(target=self._watch, name="join-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def joined(self) -> None:
        self.taken_in = True
        self._done.set()

    def stop(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        if not self._done.wait(self.within):
            self.overdue()
