"""Scoping of live events: which published events a scoped subscriber may receive.

An event is delivered when its customer's owner is inside the subscriber's scope
(`gateway.scope`). The owner is learnt from the events themselves (a registration or an
owner assignment on the customer's own stream carries it), else read once per customer
from the read model. The organisation's events are nobody's customer events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from events import ORGANISATION_ID, CustomerRegistered, OwnerAssigned
from gateway.deps import GatewayDeps
from gateway.scope import Scope, reaches
from projections.org_scope import owners_of

_CARRY_OWNER = (CustomerRegistered.TYPE, OwnerAssigned.TYPE)


class LiveScope:
    def __init__(self, deps: GatewayDeps, scope: Scope) -> None:
        self.deps = deps
        self.scope = scope
        self.owners: dict[UUID, str | None] = {}

    async def admits(self, envelope: Mapping[str, Any]) -> bool:
        subject = UUID(str(envelope["subject"]))
        if subject == ORGANISATION_ID:
            return False  # not a customer's event, whoever asks
        if self.scope is None:
            return True
        data = envelope.get("data") or {}
        kind = str(envelope.get("type", "")).rsplit(".v", 1)[0]
        if kind in _CARRY_OWNER and str(envelope.get("stream")) == str(subject):
            self.owners[subject] = data.get("owner")
        elif subject not in self.owners:
            found = await self.deps.reads.run(owners_of, [subject])
            self.owners[subject] = found.get(subject)
        return reaches(self.scope, self.owners[subject])
