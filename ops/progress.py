"""A rich progress bar for long replays (rebuilds), handed out as a `(done, total)` callback.

On a terminal, rich draws the bar. Elsewhere (a cron job, a systemd unit, a CI log) a bar
shows nothing until the end, so a line is written every `LINE_EVERY` seconds instead,
with the same figures: done of total, the rate, and the time left.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text

Progress = Callable[[int, int], None]


def _rate_column(unit: str = "events") -> object:
    """Items (events, rows) per second so far (rich's speed column counts bytes)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"– {unit}/s" if speed is None else f"{speed:,.0f} {unit}/s")

    return RateColumn()


LINE_EVERY: Final = 5.0


def progress_lines(
    description: str,
    unit: str,
    write: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    every: float = LINE_EVERY,
) -> Progress:
    """A `(done, total)` callback writing a line every `every` seconds, and one at the end."""
    started = clock()
    last, shown = started, -1

    def update(done: int, total: int) -> None:
        nonlocal last, shown
        now = clock()
        finished = done >= total and done != shown
        if now - last < every and not finished:
            return
        last, shown = now, done
        rate = done / (now - started) if now > started else 0.0
        left = f", {(total - done) / rate:.0f}s left" if rate and done < total else ""
        write(f"{description}: {done:,}/{total:,} ({rate:,.0f} {unit}/s{left})")

    return update


@contextmanager
def progress_bar(description: str, unit: str = "events") -> Iterator[Progress]:
    from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    if not sys.stdout.isatty():
        yield progress_lines(description, unit, lambda line: print(line, flush=True))
        return

    with RichProgress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        _rate_column(unit),  # type: ignore[arg-type]
        TimeRemainingColumn(),
    ) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
