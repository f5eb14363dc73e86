"""Errors the `crm` command line turns into one line on stderr and exit code 2."""

from __future__ import annotations


class SettingError(Exception):
    """A setting (or option) is wrong: the message names it, so the user knows what to fix."""

    def __init__(self, setting: str | None, message: str) -> None:
        super().__init__(message)
        self.setting = setting
        self.message = message

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}" if self.setting else self.message
