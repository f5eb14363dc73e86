"""What the event store says, for the checks that reconcile read models with it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from commands.application import CrmApplication
from events import CustomerForgotten, CustomerMerged, CustomerRegistered, PurchaseRecorded

PAGE = 10_000


@dataclass(frozen=True)
class StoreFacts:
    live_customers: int
    """Registered, not forgotten, not merged into another customer."""
    purchase_totals: dict[UUID, Decimal]
    """Each customer's own purchases, summed in CNY (customers without any left out)."""


def _notifications(app: CrmApplication, topics: Sequence[str]) -> Iterator[Notification]:
    position = 0
    while True:
        page = app.recorder.select_notifications(
            start=position, limit=PAGE, topics=topics, inclusive_of_start=False
        )
        if not page:
            return
        yield from page
        position = page[-1].id


def store_facts(app: CrmApplication) -> StoreFacts:
    registered: set[UUID] = set()
    gone: set[UUID] = set()
    membership = [get_topic(c) for c in (CustomerRegistered, CustomerForgotten, CustomerMerged)]
    for n in _notifications(app, membership):
        (registered if n.topic == membership[0] else gone).add(UUID(str(n.originator_id)))
    totals: dict[UUID, Decimal] = defaultdict(Decimal)
    for n in _notifications(app, [get_topic(PurchaseRecorded)]):
        state = app.crm_mapper.decode_state(n, cls=PurchaseRecorded, redact=True)
        totals[UUID(str(n.originator_id))] += Decimal(str(state["total_cny"]))
    return StoreFacts(len(registered - gone), dict(totals))
