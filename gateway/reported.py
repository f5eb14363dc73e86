"""Errors that accompany data instead of nulling it: damaged values in the event store.

GraphQL turns a field that raises into null, and a null in a non-null position nulls
its parents: one unreadable event would empty a whole `auditTrail` page. A damaged
value is not a failure of the request, so the resolver answers with everything it
could read (the damaged value as null, as for a forgotten customer) and *reports* a
``CORRUPTED`` error for it: `ReportedErrors` appends those to the response's
``errors`` after execution, with the field's path, the event's ``position`` and the
unreadable ``field`` in ``extensions``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from compliance.corruption import Corruption
from gateway.errors import CORRUPTED, GatewayError


def corrupted_error(corruption: Corruption) -> GatewayError:
    return GatewayError(
        f"{corruption.message()}; shown as null, the rest of the answer is complete",
        CORRUPTED,
        corruption.field,
        position=corruption.position,
        streamId=str(corruption.stream_id),
    )


def report_corrupted(info: Any, corruptions: Iterable[Corruption]) -> None:
    """Add one CORRUPTED error per damaged value to the response, at this field's path."""
    reported: list[GraphQLError] = info.context.reported
    for corruption in corruptions:
        error = corrupted_error(corruption)
        reported.append(
            GraphQLError(
                error.message,
                path=info.path.as_list(),
                original_error=error,
                extensions=error.extensions,
            )
        )


class ReportedErrors(SchemaExtension):
    """Append the errors resolvers reported to the result once execution is done."""

    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        reported = getattr(context, "reported", None)
        result = self.execution_context.result
        if reported and result is not None:
            result.errors = [*(result.errors or []), *reported]
