"""Idempotency keys: scoped to the subject, bound to a fingerprint of the command.

A key means "this exact request, from me": the stored first result is replayed only to
the subject that stored it (`actor` of the command's context), and only for the same
command, as Stripe and the IETF Idempotency-Key draft do. The same key with another
command (another type, another customer, another amount...) is refused with
CONFLICT on ``idempotencyKey``; nothing is recorded and nothing of the first
result is shown. The same key from another subject is simply another key.

The fingerprint is a SHA-256 of the command's canonical JSON: its type and every field
except the key itself. What the service fills in later (``occurred_at`` = now, generated
order, need and complaint ids) is None in the command as sent, so a retry that leaves
them out again still matches; a retry that sends another value does not. Canonical
means: UUIDs in their standard text, times in UTC, decimals without trailing zeros
("1999.00" == "1999.0"), keys sorted, no insignificant whitespace. Commands hold no
floats, so this JSON is canonical without a JCS library.

Rows stored before fingerprints existed (``fingerprint`` NULL) are still honoured for the
same subject, but only as far as they can be checked: the same command type, and a
command about the same customer or stream as the stored result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final
from uuid import UUID

from aggregates.customer import UNSET
from aggregates.errors import DomainError, ValidationFailed
from commands.messages import Command
from commands.recorder import StoredResult

KEY_FIELD = "idempotencyKey"

# Fields naming the stream or customer a command is about, for rows without fingerprint.
_TARGET_FIELDS = ("customer_id", "complaint_id", "task_id", "survivor_id")

ScopedKey = tuple[str, str]


class IdempotencyMismatch(DomainError):
    """The key was already used by this subject for another command."""

    code = "CONFLICT"  # the contract's code; `field` idempotencyKey tells which conflict


KEY_MAX: Final = 255
"""Characters of an idempotency key at most (a UUID is 36; a form's prefix fits too)."""


def scoped_key(subject: str, command: Command) -> ScopedKey | None:
    """The (subject, key) a command's result is stored under; None without a key. A blank
    key is refused, not stored: a form that always sends "" would otherwise have every
    later command refused as a reuse of the first one's key."""
    key = command.idempotency_key
    if key is None:
        return None
    if not key.strip():
        raise ValidationFailed(
            "idempotencyKey must not be blank: leave it out to send no key",
            field="idempotencyKey",
        )
    if len(key) > KEY_MAX:
        raise ValidationFailed(
            f"idempotencyKey must be at most {KEY_MAX} characters", field="idempotencyKey"
        )
    return (subject, key)


def canonical(command: Command) -> str:
    """The command's type and fields (not its key) as canonical JSON (module docstring)."""
    fields = {
        f.name: _plain(getattr(command, f.name))
        for f in dataclasses.fields(command)
        if f.name != "idempotency_key" and getattr(command, f.name) is not UNSET
    }
    return json.dumps(
        {"command": command.type_name, "fields": fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def fingerprint(command: Command) -> str:
    """SHA-256 (hex) of `canonical`: what a stored key is bound to."""
    return hashlib.sha256(canonical(command).encode()).hexdigest()


def _plain(value: Any) -> Any:
    """A JSON value that is equal exactly when the two command values mean the same."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        aware = value.tzinfo is not None and value.utcoffset() is not None
        return value.astimezone(UTC).isoformat() if aware else value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"no canonical form for {type(value).__name__} in a command")


def check_replay(stored: StoredResult, command: Command, print_: str) -> StoredResult:
    """The stored result if `command` (fingerprint `print_`) is the one stored; else refuse."""
    if stored.command != command.type_name:
        raise mismatch(f"already used for a {stored.command} command")
    if stored.fingerprint is None:
        if not _same_target(stored, command):
            raise mismatch("already used for a command about another customer or stream")
        return stored
    if stored.fingerprint != print_:
        raise mismatch(f"already used for a {stored.command} command with other fields")
    return stored


def mismatch(why: str) -> IdempotencyMismatch:
    return IdempotencyMismatch(
        f"idempotency key {why}; use a new key for a new request", field=KEY_FIELD
    )


def _same_target(stored: StoredResult, command: Command) -> bool:
    """For rows without fingerprint: the command is about the stored result's stream."""
    known = {str(stored.result.get("aggregate_id")), str(stored.result.get("customer_id"))}
    targets = [getattr(command, name, None) for name in _TARGET_FIELDS]
    return all(str(t) in known for t in targets if t is not None)
