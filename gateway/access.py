"""Recording GraphQL reads of personal data in the access log (docs/compliance.md §5).

Resolvers that return a personal field note it on the request's `AccessNotes`
(customer, field, root operation); `RecordAccess`, a schema extension, hands the notes
of the whole request to `compliance.access_log.AccessLog` in one call when execution
ends, so a page of 100 customers is one queued batch, never 100 inserts. Only values
actually returned count: a role that gets personal fields masked (analyst), or a
forgotten customer, returns nulls and leaves no row. Subscriptions record per event
delivered (`record_now`), since their execution does not end while they run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from uuid import UUID

from graphql import FieldNode
from strawberry.extensions import SchemaExtension

from compliance.access_log import AccessEntry
from gateway import masking

if TYPE_CHECKING:
    from gateway.context import GatewayContext

OPERATION_PREFIX = "graphql:"


class AccessNotes:
    """The personal fields one request returned, by (operation, customer)."""

    def __init__(self) -> None:
        self._fields: dict[tuple[str, UUID], list[str]] = {}

    def note(self, operation: str, customer_id: UUID, fields: Iterable[str]) -> None:
        seen = self._fields.setdefault((operation, customer_id), [])
        seen.extend(f for f in fields if f not in seen)

    def entries(self, actor: str, role: str) -> list[AccessEntry]:
        return [
            AccessEntry(actor, role, customer_id, tuple(fields), operation)
            for (operation, customer_id), fields in self._fields.items()
            if fields
        ]

    def clear(self) -> None:
        self._fields.clear()


def root_operation(info: Any) -> str:
    """``graphql:<root field>`` of the resolver's path (aliases resolved to the field)."""
    path = info.path
    while path.prev is not None:
        path = path.prev
    key = str(path.key)
    for selection in info.operation.selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.alias or selection.name
            if name.value == key:
                return OPERATION_PREFIX + selection.name.value
    return OPERATION_PREFIX + key


def note_returned(info: Any, customer_id: UUID, field: str, value: object) -> None:
    """Note one personal field a resolver returns (nothing when it returns null)."""
    if value is not None:
        context: GatewayContext = info.context
        context.access.note(root_operation(info), customer_id, (field,))


def returned_personal(
    info: Any, customer_id: UUID, field: str, value: str | None, shown: bool = True
) -> str | None:
    """A personal field as the caller's role sees it (full, partial or null, by
    `gateway.masking`; null when `shown` is false), noted for the access log if returned."""
    principal = getattr(info.context, "principal", None)
    role = principal.role if principal is not None else None
    returned = masking.shown(role, field, value) if shown else None
    note_returned(info, customer_id, field, returned)
    return returned


def record_now(context: GatewayContext) -> None:
    """Queue what the request noted so far (the subscription path) and forget it."""
    log = context.deps.access_log
    principal = context.principal
    if log is not None and principal is not None:
        log.add(context.access.entries(principal.subject, principal.role.value))
    context.access.clear()


class RecordAccess(SchemaExtension):
    """At the end of each query or mutation, queue its noted reads in one call."""

    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if hasattr(context, "access"):
            record_now(context)
