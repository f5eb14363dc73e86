"""Who a command-line verb acts as: recorded on the events it writes and in the access
log for the personal data it shows."""

from __future__ import annotations

import getpass


def cli_actor(given: str | None = None) -> str:
    """`given` (an `--actor` or `--subject`), else ``cli:<login name>``."""
    if given and given.strip():
        return given.strip()
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"
