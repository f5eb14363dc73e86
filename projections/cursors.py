"""Opaque pagination cursors: base64url of a small tagged JSON value.

Clients must not build or read them; the tag stops a timeline cursor from being used
on a customer list. A cursor that does not decode is a `ValueError` (the gateway turns
it into a VALIDATION error on `after`).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from uuid import UUID

import orjson


class InvalidCursor(ValueError):
    """The `after` argument is not a cursor this API handed out."""


def _encode(value: list[object]) -> str:
    raw = orjson.dumps(value)  # a page makes one per row
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, tag: str) -> list[object]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from error
    if not isinstance(value, list) or not value or value[0] != tag:
        raise InvalidCursor(f"invalid cursor {cursor!r}")
    return value[1:]


def customer_cursor(created_at: datetime, customer_id: UUID) -> str:
    return _encode(["c", created_at.isoformat(), str(customer_id)])


def read_customer_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        created_at, customer_id = _decode(cursor, "c")
        return datetime.fromisoformat(str(created_at)), UUID(str(customer_id))
    except (TypeError, ValueError) as error:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from error


def timeline_cursor(position: int) -> str:
    return _encode(["t", position])


def read_timeline_cursor(cursor: str) -> int:
    try:
        (position,) = _decode(cursor, "t")
        return int(str(position))
    except (TypeError, ValueError) as error:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from error


def queue_cursor(filed_at: datetime, complaint_id: UUID) -> str:
    return _encode(["q", filed_at.isoformat(), str(complaint_id)])


def read_queue_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        filed_at, complaint_id = _decode(cursor, "q")
        return datetime.fromisoformat(str(filed_at)), UUID(str(complaint_id))
    except (TypeError, ValueError) as error:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from error


def activity_cursor(position: int) -> str:
    return _encode(["a", position])


def read_activity_cursor(cursor: str) -> int:
    try:
        (position,) = _decode(cursor, "a")
        return int(str(position))
    except (TypeError, ValueError) as error:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from error


def task_cursor(due_at: datetime, task_id: UUID) -> str:
    return _encode(["k", due_at.isoformat(), str(task_id)])


def read_task_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        due_at, task_id = _decode(cursor, "k")
        return datetime.fromisoformat(str(due_at)), UUID(str(task_id))
    except (TypeError, ValueError) as error:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from error
