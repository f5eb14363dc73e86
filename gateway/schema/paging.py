"""Relay paging arguments, checked the same way by every connection field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import VariableNode

from gateway.errors import invalid


def page_size(first: int, most: int, name: str = "first") -> int:
    if first < 0 or first > most:
        raise invalid(f"{name} must be between 0 and {most}", name)
    return first


def given(info: Any, name: str) -> bool:
    """Whether the request itself set argument `name` (not its schema default): written in
    the document, as a value or as a variable the request's variables carry."""
    for node in info._raw_info.field_nodes:
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = argument.value
                if isinstance(value, VariableNode):
                    return value.name.value in info._raw_info.variable_values
                return True
    return False


def direction(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    most: int,
    first_given: Callable[[], bool] = lambda: False,
) -> tuple[int | None, int | None]:
    """Relay's arguments as one walk: (first, None) forwards or (None, last) backwards.
    `first` has a default (20, in the contract), so only a `first` the request gave
    (`given`) clashes with `last`/`before`."""
    if last is None and before is None:
        return page_size(20 if first is None else first, most), None
    if after is not None:
        raise invalid("after pages forwards: give first/after or last/before, not both", "after")
    if first is not None and first_given():
        raise invalid("first pages forwards: give first/after or last/before, not both", "first")
    return None, page_size(20 if last is None else last, most, "last")
