"""The demo's custom fields: an admin's two definitions (行业细分, 合同到期日) and values on
about half of the seeded customers, so `make demo` shows them on profiles, in list
filters, on timelines and in the analytics datasets.

Recorded after the history, apart from it: the stories stay exactly what they were for
a seed (tests and benchmarks replay them), and a re-seed with --force only defines the
fields that are missing. Values come from each customer's own generator
(``fields:<id>``); customers the history merged away or forgot are left out.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from aggregates.custom_fields import CATALOG_ID, CustomFieldCatalog
from commands.messages import (
    Command,
    CommandContext,
    DefineCustomField,
    ForgetCustomer,
    MergeCustomers,
    RegisterCustomer,
    SetCustomFields,
)
from commands.service import CommandService
from demo.history import Batch

SEGMENTS: Final = ("制造业", "零售", "金融", "互联网", "医疗健康", "教育")
DEFINITIONS: Final = (
    DefineCustomField(
        key="industry_segment", label="行业细分", field_type="SINGLE_CHOICE", choices=SEGMENTS
    ),
    DefineCustomField(key="contract_end", label="合同到期日", field_type="DATE"),
)
SEGMENT_RATE: Final = 0.5
CONTRACT_RATE: Final = 0.25
PER_BATCH: Final = 500


class OpenCustomers:
    """Watches the history's batches go by and remembers who is still open at its end."""

    def __init__(self) -> None:
        self.registered: list[UUID] = []
        self.closed: set[UUID] = set()

    def watch(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        for batch in batches:
            for command in batch.commands:
                self._note(command)
            yield batch

    def _note(self, command: Command) -> None:
        if isinstance(command, RegisterCustomer) and command.customer_id is not None:
            self.registered.append(command.customer_id)
        elif isinstance(command, ForgetCustomer):
            self.closed.add(command.customer_id)
        elif isinstance(command, MergeCustomers):
            self.closed.add(command.duplicate_id)

    def open(self) -> list[UUID]:
        return [c for c in self.registered if c not in self.closed]


def define_fields(service: CommandService, context: CommandContext) -> None:
    """Define the demo's fields that the catalog does not hold yet."""
    try:
        catalog: object = service.app.repository.get(CATALOG_ID)
        held = set(catalog.fields) if isinstance(catalog, CustomFieldCatalog) else set()
    except AggregateNotFoundError:
        held = set()
    for definition in DEFINITIONS:
        if definition.key not in held:
            service.handle(definition, context)


def values_for(customer_id: UUID, until: datetime) -> SetCustomFields | None:
    side = random.Random(f"fields:{customer_id}")
    values: list[tuple[str, str | tuple[str, ...] | None]] = []
    if side.random() < SEGMENT_RATE:
        values.append(("industry_segment", side.choice(SEGMENTS)))
    if side.random() < CONTRACT_RATE:
        ends = until.date() + timedelta(days=side.randint(-30, 540))
        values.append(("contract_end", ends.isoformat()))
    if not values:
        return None
    # After every registration (the history leaves its last hour empty).
    return SetCustomFields(
        customer_id=customer_id, values=tuple(values), occurred_at=until - timedelta(minutes=30)
    )


def record_values(
    service: CommandService, context: CommandContext, customers: Iterable[UUID], until: datetime
) -> int:
    """Define the fields and set the values; returns how many commands were recorded."""
    define_fields(service, context)
    commands = [c for c in (values_for(i, until) for i in customers) if c is not None]
    for start in range(0, len(commands), PER_BATCH):
        service.handle_many(commands[start : start + PER_BATCH], context)
    return len(commands) + len(DEFINITIONS)
