"""What a save must write besides its events, read off the events themselves.

Deriving side effects from the new events (rather than from each command) keeps one
truth for single commands and batches alike: whichever command produced a
`CustomerRegistered` with an email, the email gets reserved and a key gets created.

- `CustomerRegistered`: a new data key (staged for the mapper, wrapped for the table);
  its email, if any, reserved.
- `ContactDetailsChanged` with ``email`` changed: the reservation moves (or is released).
- `CustomerMerged` (on the duplicate): the duplicate's email is released, so the
  survivor (or anyone) may take it.
- `CustomerForgotten`: email released, key destroyed, snapshots dropped.
- Complaint facts: their customer's key must still exist when the transaction commits.
- A new complaint or task: its customer must not have been merged away meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from commands.application import CrmApplication
from commands.recorder import WriteEffects
from events import (
    ContactDetailsChanged,
    CrmCreated,
    CustomerForgotten,
    CustomerMerged,
    CustomerRegistered,
    CustomerScoped,
)


def derive_effects(
    app: CrmApplication, events: Iterable[Any], effects: WriteEffects
) -> dict[UUID, AESGCM]:
    """Fill `effects` from `events`; returns the new ciphers to stage for the mapper."""
    ciphers: dict[UUID, AESGCM] = {}
    for event in events:
        if isinstance(event, CustomerRegistered):
            customer_id = event.originator_id
            cipher, wrapped = app.keys.new_key(customer_id)
            ciphers[customer_id] = cipher
            effects.new_keys[customer_id] = wrapped
            if event.email:
                effects.email_changes[customer_id] = app.email_digest(event.email)
        elif isinstance(event, ContactDetailsChanged):
            if "email" in event.changed:
                effects.email_changes[event.originator_id] = (
                    app.email_digest(event.email) if event.email else None
                )
        elif isinstance(event, CustomerMerged):
            effects.email_changes[event.originator_id] = None
        elif isinstance(event, CustomerForgotten):
            effects.email_changes[event.originator_id] = None
            effects.destroyed_keys.add(event.originator_id)
        elif isinstance(event, CustomerScoped) and event.customer_id not in effects.new_keys:
            effects.required_keys.add(event.customer_id)
            if isinstance(event, CrmCreated):
                effects.open_customers.add(event.customer_id)
    return ciphers
