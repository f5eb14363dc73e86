"""The aggregates one save touches, loaded once each, and which command made which event.

One command or a whole batch (imports) runs through a `UnitOfWork`: it is an identity map
(a customer registered by command 3 of a batch is the same object command 7 tags), it
remembers which streams were created (a clash on those is "already exists", not a
concurrent write worth retrying), and it attributes each new event to the command that
caused it, for ``crm_event_meta`` and idempotency positions.

Loading: `preload` takes every aggregate a batch names, cached copies as they are and
the rest in one query (`commands.loader.AggregateLoader`, which hands them out without
copying); an id a handler asks for that was not preloaded is taken on its own. A cached
copy may be behind the store (another process wrote since): `stale_copies` finds the ones
this unit of work relied on, so the service can retry on current state. After the save
the application gives the aggregates back; after a failure, `discard` does (only
unchanged, current ones are kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.complaint import Complaint
from aggregates.custom_fields import CATALOG_ID, CustomFieldCatalog
from aggregates.customer import Customer
from aggregates.errors import Conflict, NotFound
from aggregates.organisation import Organisation
from aggregates.policy import Policy
from aggregates.task import Task
from commands.application import CrmApplication
from commands.recorder import EventKey
from events.organisation import ORGANISATION_ID

A = TypeVar("A", bound=Aggregate)

STREAM_FIELDS = ("customer_id", "complaint_id", "referred_by", "survivor_id", "duplicate_id")
"""Command fields that name a stream: what `preload` takes for a batch."""


def named_streams(commands: Sequence[Any]) -> list[UUID]:
    """The stream ids a batch of commands names (existing or to be created)."""
    ids: list[UUID] = []
    for command in commands:
        for name in STREAM_FIELDS:
            value = getattr(command, name, None)
            if isinstance(value, UUID):
                ids.append(value)
    return ids


class UnitOfWork:
    """Aggregates of one save, in first-touched order (the order their events are stored)."""

    def __init__(self, app: CrmApplication, policy: Policy) -> None:
        self.app = app
        self.policy = policy
        self._aggregates: dict[UUID, Aggregate] = {}
        self.created: dict[UUID, str] = {}  # new stream id -> the input field naming it
        self._attributed: dict[UUID, int] = {}
        self._rank: dict[UUID, int] = {}  # first-touched order
        self._touched: set[UUID] = set()  # since the last `attribute`
        self._in_order: list[Any] = []
        self.commands: dict[EventKey, str] = {}
        self._preloaded: dict[UUID, Aggregate | None] = {}
        self._unverified: set[UUID] = set()  # cached copies not yet checked against the store
        self._stale: set[UUID] = set()  # copies found behind the store: never given back
        self._saved = False
        self.scope: frozenset[str] | None = None
        """The current command's scope (`CommandContext.scope`), set before each handler."""
        self.actor: str | None = None
        """Who sends the current command (`CommandContext.actor`), set with the scope."""

    def preload(self, ids: Sequence[UUID]) -> None:
        """Take the named aggregates at once (ids of streams that don't exist: fine)."""
        self._take([i for i in ids if i not in self._preloaded])

    def _take(self, ids: Sequence[UUID]) -> None:
        if not ids:
            return
        found, cached = self.app.loader.take_cached(ids)
        self._preloaded.update(found)
        self._unverified |= cached

    def stale_copies(self, *, read_only: bool) -> frozenset[UUID]:
        """Cached copies the handlers used that the store has moved past (one query, only
        when some copy is unchecked). `read_only`: only those no handler changed, since a
        changed one is checked by its save (its new versions clash on the version key).
        Stale ones are dropped, not given back; the rest count as checked."""
        checking = {
            i: a.version - len(a.pending_events)
            for i, a in self._aggregates.items()
            if i in self._unverified and not (read_only and a.pending_events)
        }
        if not checking:
            return frozenset()
        stale = self.app.loader.stale(checking)
        self._unverified -= checking.keys()
        self._stale |= stale
        return stale

    def saved(self) -> None:
        """The save committed: the application gave the aggregates it saved back already."""
        self._saved = True

    def discard(self) -> None:
        """Hand back what this unit of work still holds (call once, when done).

        After a committed save, only what no handler touched: the saved aggregates went
        back with the save and may already be in another unit of work's hands."""
        held = [
            a for i, a in self._preloaded.items() if a is not None and i not in self._aggregates
        ]
        if not self._saved:
            held += [a for i, a in self._aggregates.items() if i not in self._stale]
        self.app.loader.give_back(held)
        self._preloaded.clear()

    # -- loading --------------------------------------------------------------------------

    def customer(self, customer_id: UUID, *, field: str = "customerId") -> Customer:
        """The customer, if the command's scope reaches it; NOT_FOUND otherwise, worded
        as for a missing one, so a refusal does not tell that the id exists."""
        customer = self._get(customer_id, Customer, "customer", field)
        if not self.in_scope(customer.owner):
            raise NotFound(f"no customer {customer_id}", field=field)
        return customer

    def in_scope(self, owner: str | None) -> bool:
        return self.scope is None or (owner is not None and owner in self.scope)

    def organisation(self, at: datetime) -> Organisation:
        """The one organisation aggregate, started on first use (by an admin's definition)."""
        found = self.existing_organisation()
        if found is None:
            found = Organisation.start(at=at)
            self.created[found.id] = "organisation"
            self._track(found)
        return found

    def existing_organisation(self) -> Organisation | None:
        """The organisation if it was ever defined: routing a lead must not start it (two
        first registrations would clash on creating the stream)."""
        found: Any = self._aggregates.get(ORGANISATION_ID)
        if found is not None:
            self._touched.add(ORGANISATION_ID)
        else:
            if ORGANISATION_ID not in self._preloaded:
                self._take([ORGANISATION_ID])
            found = self._preloaded[ORGANISATION_ID]
            if found is None:
                return None
            self._track(found)
        if not isinstance(found, Organisation):
            raise TypeError(f"stream {ORGANISATION_ID} is not the organisation")
        return found

    def complaint(self, complaint_id: UUID, *, field: str = "complaintId") -> Complaint:
        return self._get(complaint_id, Complaint, "complaint", field)

    def task(self, task_id: UUID, *, field: str = "taskId") -> Task:
        return self._get(task_id, Task, "task", field)

    def custom_field_catalog(self) -> CustomFieldCatalog | None:
        """The catalog of custom field definitions; None before the first is defined."""
        try:
            return self._get(CATALOG_ID, CustomFieldCatalog, "catalog", "key")
        except NotFound:
            return None

    def _get(self, aggregate_id: UUID, cls: type[A], kind: str, field: str) -> A:
        found: Any = self._aggregates.get(aggregate_id)
        if found is not None:
            self._touched.add(aggregate_id)
        else:
            if aggregate_id not in self._preloaded:
                self._take([aggregate_id])
            found = self._preloaded[aggregate_id]
            if isinstance(found, cls):
                self._track(found)
        if not isinstance(found, cls):
            raise NotFound(f"no {kind} {aggregate_id}", field=field)
        return found

    def add(self, aggregate: Aggregate, *, field: str) -> None:
        """A stream created by this unit of work (`field` names its id in the input)."""
        if aggregate.id in self._aggregates:
            raise Conflict(f"{aggregate.id} already exists", field=field)
        self.created[aggregate.id] = field
        self._track(aggregate)

    def _track(self, aggregate: Aggregate) -> None:
        self._aggregates[aggregate.id] = aggregate
        self._attributed[aggregate.id] = 0
        self._rank[aggregate.id] = len(self._rank)
        self._touched.add(aggregate.id)

    # -- versions ---------------------------------------------------------------------------

    @staticmethod
    def check_version(aggregate: Aggregate, expected: int | None) -> None:
        """CONFLICT on ``expectedVersion`` when the caller saw another version."""
        if expected is not None and expected != aggregate.version:
            raise Conflict(
                f"expected version {expected} but {aggregate.id} is at {aggregate.version}",
                field="expectedVersion",
            )

    @staticmethod
    def check_new(expected: int | None) -> None:
        """A command creating a stream can only expect "nothing yet" (None or 0)."""
        if expected not in (None, 0):
            raise Conflict(
                f"expected version {expected} of a stream that does not exist yet",
                field="expectedVersion",
            )

    # -- events ---------------------------------------------------------------------------

    def attribute(self, command: str) -> list[EventKey]:
        """Claim the events made since the last call for `command`; returns their keys.

        Only aggregates touched since the last call can hold new events, so a batch costs
        O(commands), not O(commands × aggregates); first-touched order is kept.
        """
        claimed: list[EventKey] = []
        touched = sorted(self._touched, key=self._rank.__getitem__)
        self._touched.clear()
        for aggregate_id in touched:
            aggregate = self._aggregates[aggregate_id]
            pending = aggregate.pending_events
            done = self._attributed[aggregate_id]
            for event in pending[done:]:
                key = (aggregate_id, event.originator_version)
                self.commands[key] = command
                claimed.append(key)
                self._in_order.append(event)
            self._attributed[aggregate_id] = len(pending)
        return claimed

    @property
    def aggregates(self) -> list[Aggregate]:
        return list(self._aggregates.values())

    def pending_events(self) -> list[Any]:
        """New events in the order the commands made them (positions follow commands)."""
        unclaimed = [
            event
            for aggregate_id, agg in self._aggregates.items()
            for event in agg.pending_events[self._attributed[aggregate_id] :]
        ]
        return [*self._in_order, *unclaimed]
