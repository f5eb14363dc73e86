"""Spies: a real call wrapped, still made, its calls recorded. Not stand-ins."""

from __future__ import annotations

from typing import Any

import pytest


def calls_to(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[tuple[Any, ...]]:
    """Wrap `owner.name` for the test: each call goes through to the original, and its
    positional arguments are appended to the list returned."""
    original = getattr(owner, name)
    calls: list[tuple[Any, ...]] = []

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return calls
