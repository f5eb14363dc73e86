"""The audit trail's opaque cursors: a tagged global position, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import json

from gateway.errors import invalid


def audit_cursor(position: int) -> str:
    raw = json.dumps(["a", position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_audit_cursor(cursor: str) -> int:
    """The position after which the next page starts; VALIDATION on `after` otherwise."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, position = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if tag != "a" or not isinstance(position, int) or isinstance(position, bool):
            raise ValueError(cursor)
        return position
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise invalid(f"invalid cursor {cursor!r}", "after") from None
