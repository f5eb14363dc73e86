"""What became of each mutation field of a request, told even when `data` is null.

Each mutation field is its own command, committed on its own (fields run one after the
other, in document order). The contract makes every payload non-null, so when one field
fails GraphQL nulls the whole `data`, including the payloads of fields that were
recorded before it. So that a recorded write is never reported as not done, every
mutation response carries ``extensions.mutations``: one entry per field that ran, by
response key (alias), with

- ``status: "DONE"``: committed (or replayed from its idempotency key); ``position``
  (its last event, null if it changed nothing), ``version``, ``id`` and ``customerId``
  say where it landed;
- ``status: "REFUSED"``: nothing recorded; ``code`` is the error's code;
- ``status: "UNKNOWN"``: the command failed in a way that does not say whether it
  committed (e.g. the database connection dropped during COMMIT); retrying with the
  same idempotency key returns the committed result, or records it once.

Fields after a failing one are not run, and are not listed.
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions import SchemaExtension

from commands.messages import CommandResult
from gateway.errors import GatewayError

DONE = "DONE"
REFUSED = "REFUSED"
UNKNOWN = "UNKNOWN"


class MutationOutcomes:
    """Per request: the outcome of each mutation field, by response key."""

    def __init__(self) -> None:
        self.by_key: dict[str, dict[str, Any]] = {}

    def done(self, key: str, result: CommandResult) -> None:
        self.by_key[key] = {
            "status": DONE,
            "position": result.position,
            "version": result.version,
            "id": str(result.aggregate_id),
            "customerId": str(result.customer_id),
        }

    def done_many(self, key: str, position: int, recorded: int) -> None:
        """A bulk field (`importCustomers`): how many commands it recorded, and where."""
        self.by_key[key] = {"status": DONE, "position": position, "recorded": recorded}

    def failed(self, key: str, error: BaseException) -> None:
        """A field's error; a write already known to be done stays DONE."""
        if key in self.by_key:
            return
        if isinstance(error, GatewayError):
            self.by_key[key] = {"status": REFUSED, "code": error.code}
        else:
            self.by_key[key] = {"status": UNKNOWN}


class ReportMutationOutcomes(SchemaExtension):
    """Puts the request's `MutationOutcomes` into the response's ``extensions``."""

    def get_results(self) -> dict[str, Any]:
        outcomes = getattr(self.execution_context.context, "outcomes", None)
        if isinstance(outcomes, MutationOutcomes) and outcomes.by_key:
            return {"mutations": dict(outcomes.by_key)}
        return {}
