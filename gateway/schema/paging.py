"""Relay paging arguments, checked the same way by every connection field."""

from __future__ import annotations

from gateway.errors import invalid


def page_size(first: int, most: int, name: str = "first") -> int:
    if first < 0 or first > most:
        raise invalid(f"{name} must be between 0 and {most}", name)
    return first


def direction(
    first: int | None, after: str | None, last: int | None, before: str | None, most: int
) -> tuple[int | None, int | None]:
    """Relay's arguments as one walk: (first, None) forwards or (None, last) backwards."""
    if last is None and before is None:
        return page_size(20 if first is None else first, most), None
    if after is not None:
        raise invalid("after pages forwards: give first/after or last/before, not both", "after")
    return None, page_size(20 if last is None else last, most, "last")
