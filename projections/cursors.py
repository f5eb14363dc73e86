"""Opaque pagination cursors: base64url of a small tagged JSON value.

Clients must not build or read them; the tag stops a timeline cursor from being used
on a customer list, and the error then names the list the cursor pages. A cursor that
does not decode is an `InvalidCursor` (a `ValueError`; the gateway turns it into a
VALIDATION error on `after` or `before`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Final, TypeVar
from uuid import UUID

import orjson

T = TypeVar("T")


class InvalidCursor(ValueError):
    """The `after` argument is not a cursor this API handed out."""


def encode_cursor(value: list[object]) -> str:
    raw = orjson.dumps(value)  # a page makes one per row
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


LISTS: Final = {
    "c": "the customer list in its default order (createdAt ascending)",
    "s": "the customer list in another orderBy",
    "t": "a customer's timeline",
    "q": "the complaint queue",
    "a": "a customer's orders or touches",
    "k": "a task list",
    "d": "the duplicate candidates",
}
"""What each tag's cursors page: named when a cursor is given to another list."""


def _decode(cursor: str, tag: str) -> list[object]:
    """The fields of a cursor of the list tagged `tag`; `InvalidCursor` saying why not."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from error
    if (
        not isinstance(value, list)
        or not value
        or not isinstance(value[0], str)
        or value[0] not in LISTS
    ):
        raise InvalidCursor(f"invalid cursor {cursor!r}")
    if value[0] != tag:
        raise InvalidCursor(
            f"cursor {cursor!r} pages {LISTS[str(value[0])]}, not this list: a cursor "
            "works only with the list and order that handed it out"
        )
    return value[1:]


def read_tagged(cursor: str, tag: str, parse: Callable[..., T]) -> T:
    """`parse` of the cursor's fields; a field of the wrong shape is `InvalidCursor`."""
    fields = _decode(cursor, tag)
    try:
        return parse(*fields)
    except InvalidCursor:
        raise
    except (TypeError, ValueError) as error:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from error


def _moment_and_id(at: object, the_id: object) -> tuple[datetime, UUID]:
    return datetime.fromisoformat(str(at)), UUID(str(the_id))


BIGINT_MAX: Final = 2**63 - 1


def _position(position: object) -> int:
    """A stored position: a bigint, as PostgreSQL holds it (an edited cursor's 1e30 was
    sent on and failed there as an INTERNAL error)."""
    value = int(str(position))
    if not 0 <= value <= BIGINT_MAX:
        raise ValueError(f"position {value} out of range")
    return value


def customer_cursor(created_at: datetime, customer_id: UUID) -> str:
    return encode_cursor(["c", created_at.isoformat(), str(customer_id)])


def read_customer_cursor(cursor: str) -> tuple[datetime, UUID]:
    return read_tagged(cursor, "c", _moment_and_id)


def timeline_cursor(position: int) -> str:
    return encode_cursor(["t", position])


def read_timeline_cursor(cursor: str) -> int:
    return read_tagged(cursor, "t", _position)


def queue_cursor(filed_at: datetime, complaint_id: UUID) -> str:
    return encode_cursor(["q", filed_at.isoformat(), str(complaint_id)])


def read_queue_cursor(cursor: str) -> tuple[datetime, UUID]:
    return read_tagged(cursor, "q", _moment_and_id)


def activity_cursor(position: int) -> str:
    return encode_cursor(["a", position])


def read_activity_cursor(cursor: str) -> int:
    return read_tagged(cursor, "a", _position)


def task_cursor(due_at: datetime, task_id: UUID) -> str:
    return encode_cursor(["k", due_at.isoformat(), str(task_id)])


def read_task_cursor(cursor: str) -> tuple[datetime, UUID]:
    return read_tagged(cursor, "k", _moment_and_id)
