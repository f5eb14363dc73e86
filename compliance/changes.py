"""Field-level history: what one event changed in its aggregate, before and after.

Computed by folding the stream's earlier events (the audit replay already does: each
step carries its aggregate's state), never by storing copies of old values: a
forgotten customer's key is gone, so its personal "before" values are gone with it.

A change is a field of the aggregate's state whose value differs right before and
right after the event. Bookkeeping (id, version, timestamps of the library, the stage
log) is left out: it changes with every event and says nothing to a reader. On a
stream's first event there is no "before": the fields it set (anything but empty or
zero) are listed with a null before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

BOOKKEEPING: Final = frozenset({"id", "version", "created_on", "modified_on", "stage_log"})
"""State keys that change with every event, or mirror another field."""

PERSONAL_STATE: Final = frozenset({"name", "email", "phone", "address"})
"""State fields that are personal data (opened with the customer's key)."""

_ZERO = re.compile(r"^0(\.0+)?$")


@dataclass(frozen=True)
class FieldChange:
    """One field an event changed: its value right before and right after (JSON-safe)."""

    field: str
    before: Any
    after: Any

    @property
    def personal(self) -> bool:
        return self.field in PERSONAL_STATE

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after}


def _empty(value: Any) -> bool:
    if value is None or value is False or value in ("", [], {}):
        return True
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    return isinstance(value, str) and bool(_ZERO.match(value))


def field_changes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    *,
    touched: Iterable[str] = (),
) -> tuple[FieldChange, ...]:
    """The fields that differ between two states of one aggregate, in `after`'s order.

    `before` None: the stream's first event. `touched`: fields the event names as changed
    although both states may read the same (a personal field nulled for the reader on
    both sides), listed anyway so a reader knows that something changed there.
    """
    named = set(touched)
    changes = []
    for field, value in after.items():
        if field in BOOKKEEPING:
            continue
        if before is None:
            if not _empty(value) or field in named:
                changes.append(FieldChange(field, None, value))
            continue
        old = before.get(field)
        if old != value or field in named:
            changes.append(FieldChange(field, old, value))
    return tuple(changes)


def touched_fields(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields an event's own data says it changed (contact details list them)."""
    changed = data.get("changed")
    return tuple(str(f) for f in changed) if isinstance(changed, list) else ()
