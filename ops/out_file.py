"""A file a verb is asked to write (`--out`): checked before any work, so a folder or a
missing folder is one line naming the option, not a traceback after the work is done."""

from __future__ import annotations

import os
from pathlib import Path

from ops.errors import SettingError


def check_out_file(path: Path, option: str, *, make_folder: bool = False) -> None:
    """Raise a `SettingError` on `option` unless `path` can be written as a file; with
    `make_folder`, a missing folder is fine (the verb creates it)."""
    if path.is_dir():
        raise SettingError(option, f"{path} is a folder; name a file in it")
    folder = path.parent
    if not folder.exists():
        if make_folder:
            return
        raise SettingError(option, f"no folder {folder}")
    if not folder.is_dir():
        raise SettingError(option, f"{folder} is not a folder")
    if not os.access(folder, os.W_OK):
        raise SettingError(option, f"cannot write in {folder}")
