"""The base of every fact the platform records.

Events are frozen dataclasses (the `eventsourcing` library makes every subclass one).
Each class says three things about itself that the rest of the platform reads:

- `TYPE`: the CloudEvents type without its version, e.g. ``crm.customer.registered``;
  the published type is ``f"{TYPE}.v{class_version}"``.
- `PERSONAL`: names of fields holding personal data. The event store encrypts these
  under the customer's own key; forgetting the customer destroys the key.
- `ADDED_IN` / `FIELD_SCHEMAS`: what the published JSON Schema of each version says.
- `class_version` and ``upcast_vN_vN1`` static methods: an old stored shape is upcast
  to the current one on read (the library calls them in order).

Aggregates mutate through `apply`, which hands the event to ``aggregate.when(event)``,
so the rules of how state changes live with the aggregate, not here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache, singledispatchmethod
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate


class CrmEvent(Aggregate.Event):
    TYPE: ClassVar[str] = ""
    PERSONAL: ClassVar[tuple[str, ...]] = ()
    # The version a field first appeared in (absent: since v1); drives the JSON Schemas.
    ADDED_IN: ClassVar[dict[str, int]] = {}
    # JSON Schema for fields whose Python type says too little (e.g. decimal strings).
    FIELD_SCHEMAS: ClassVar[dict[str, dict[str, Any]]] = {}

    def apply(self, aggregate: Any) -> None:
        _handler_of(type(aggregate), type(self))(aggregate, self)

    @property
    def subject_id(self) -> UUID:
        """The customer this fact is about: the partition key and the encryption key's owner."""
        return self.originator_id

    @classmethod
    def cloudevents_type(cls) -> str:
        return f"{cls.TYPE}.v{getattr(cls, 'class_version', 1)}"


@cache
def _dispatch_of(aggregate_type: type) -> Callable[[type], Callable[[Any, Any], None]]:
    when = inspect.getattr_static(aggregate_type, "when")
    if isinstance(when, singledispatchmethod):
        return when.dispatcher.dispatch
    return lambda _event_type: when


def _handler_of(aggregate_type: type, event_type: type) -> Callable[[Any, Any], None]:
    """The aggregate's `when` for the event's class. Looked up, not read as
    ``aggregate.when``: in Python 3.11 every read of a `singledispatchmethod` builds a new
    function and copies its metadata (~1.5 µs an event, 4% of the bulk path's CPU)."""
    return _dispatch_of(aggregate_type)(event_type)


def enum_schema(values: tuple[str, ...], *, nullable: bool = False) -> dict[str, Any]:
    return {"enum": [*values, None] if nullable else list(values)}


class CrmCreated(Aggregate.Created, CrmEvent):
    """The first event of a stream."""


class CustomerScoped:
    """Mixin for events of other aggregates (complaints) that belong to a customer."""

    customer_id: UUID

    @property
    def subject_id(self) -> UUID:
        return self.customer_id


class ConfigurationFact:
    """Mixin for facts about how the platform is set up (custom field definitions, the
    organisation's departments, teams and routing), not
    about one customer: their stream is the subject on the wire, and read models keyed
    by customer (profiles, timeline, materialized columns) leave them out."""
