"""The supervised processes' log files: private (0600) and rotated by size.

A child writes its stdout and stderr straight into ``D/logs/<name>.log`` (the
supervisor hands it the open file), so the child cannot rotate it and the supervisor
cannot rename it from under the child. The file is opened with O_APPEND, so
*copy-then-truncate* works: the supervisor copies the file to ``<name>.log.1`` (older
copies shift to ``.2`` … ``.keep``) and truncates it; the child's next write lands at
the new end, offset 0. Lines written between the copy and the truncation are lost:
the classic logrotate ``copytruncate`` trade, acceptable for diagnostics.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO

MODE = 0o600
MAX_BYTES = 10 * 1024 * 1024
KEEP = 5


def open_log(path: Path) -> BinaryIO:
    """The log for appending, created 0600 (and made 0600 if it already existed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, MODE)
    os.fchmod(fd, MODE)
    return os.fdopen(fd, "ab")


def rotate_if_large(path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> bool:
    """Copy-truncate `path` when it exceeds `max_bytes`, keeping `keep` old copies."""
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    for index in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{index + 1}"))
    first = path.with_name(f"{path.name}.1")
    with path.open("rb") as source, _private(first) as target:
        shutil.copyfileobj(source, target)
    os.truncate(path, 0)
    return True


def _private(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, MODE)
    os.fchmod(fd, MODE)
    return os.fdopen(fd, "wb")
