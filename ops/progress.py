"""A rich progress bar for long replays (rebuilds), handed out as a `(done, total)` callback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

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


@contextmanager
def progress_bar(description: str, unit: str = "events") -> Iterator[Progress]:
    from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    with RichProgress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        _rate_column(unit),  # type: ignore[arg-type]
        TimeRemainingColumn(),
    ) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
