"""What a projection is: a name (its checkpoint key) and a function applying fresh events.

`apply` receives only the events this projection has not applied yet, in position
order, within the caller's transaction; it picks the kinds it cares about and must not
commit. Events of unknown types reach every projection too; all but one ignore them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Connection

from projections.incoming import IncomingEvent

ApplyFn = Callable[[Connection[Any], Sequence[IncomingEvent]], None]


@dataclass(frozen=True)
class Projection:
    name: str
    apply: ApplyFn


def of_kind(events: Sequence[IncomingEvent], *kinds: str) -> list[IncomingEvent]:
    """The known events of the given kinds (``Event.TYPE`` values), order kept."""
    return [e for e in events if e.known and e.kind in kinds]


def as_uuid(value: Any) -> UUID | None:
    return None if value is None else UUID(str(value))
