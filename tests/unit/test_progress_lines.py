"""Progress off a terminal: a line every few seconds with the figures a bar would show."""

from __future__ import annotations

from ops.progress import progress_lines


def test_a_line_every_interval_and_one_at_the_end() -> None:
    now = [100.0]
    lines: list[str] = []
    update = progress_lines("replaying events", "events", lines.append, lambda: now[0], 5.0)
    for done in range(0, 10_001, 1_000):  # 10 s of work, a call a second
        now[0] = 100.0 + done / 1_000
        update(done, 10_000)
    assert lines == [
        "replaying events: 5,000/10,000 (1,000 events/s, 5s left)",
        "replaying events: 10,000/10,000 (1,000 events/s)",
    ]
    now[0] += 1
    update(10_000, 10_000)  # a catch-up reporting the same figure: no repeat
    assert len(lines) == 2
