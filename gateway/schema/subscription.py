"""Subscriptions over WebSocket (graphql-transport-ws): live events from Kafka."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from datetime import datetime
from typing import Any

import strawberry
from anyio import to_thread
from strawberry.types import Info

from gateway.context import GatewayContext
from gateway.errors import UNAUTHENTICATED, UNAVAILABLE, GatewayError
from gateway.live import LiveUnavailable
from gateway.roles import Permission
from gateway.schema.scalars import parse_optional_id
from gateway.schema.types import AuditEvent
from streams.source import WIRE_PREFIX, EnvelopeOpener

GInfo = Info[GatewayContext, None]


def _redacted(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: None if isinstance(v, str) and v.startswith(WIRE_PREFIX) else v for k, v in data.items()
    }


def event_of_envelope(
    opener: EnvelopeOpener, envelope: Mapping[str, Any], personal: bool
) -> AuditEvent:
    """An AuditEvent of a Kafka envelope, personal fields opened or nulled."""
    data = opener.open(envelope)["data"] if personal else _redacted(envelope.get("data") or {})
    return AuditEvent(
        position=int(envelope["position"]),
        type=str(envelope["type"]),
        version=int(envelope["version"]),
        occurred_at=datetime.fromisoformat(str(envelope["time"])),
        recorded_at=datetime.fromisoformat(str(envelope["recordedat"])),
        actor=envelope.get("actor"),
        data=json.dumps(data, ensure_ascii=False),
        stream_id=strawberry.ID(str(envelope["stream"])),
        customer_id=strawberry.ID(str(envelope["subject"])),
        correlation_id=envelope.get("correlationid"),
        causation_id=envelope.get("causationid"),
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Live events as they are published, optionally for one customer "
        "(its complaints' events included)."
    )
    async def customer_events(
        self, info: GInfo, customer_id: strawberry.ID | None = None
    ) -> AsyncGenerator[AuditEvent, None]:
        ctx = info.context
        principal = ctx.require(Permission.SUBSCRIBE, "receive live events")
        wanted = parse_optional_id(customer_id, "customerId")
        live = ctx.deps.live
        if live is None:
            raise GatewayError("live events are not configured on this gateway", UNAVAILABLE)
        opener = EnvelopeOpener(ctx.deps.app)
        personal = ctx.sees_personal
        try:
            async with live.subscribe(wanted) as subscriber:
                while True:
                    envelope = await subscriber.queue.get()
                    if envelope is None:
                        raise GatewayError("live events stopped; subscribe again", UNAVAILABLE)
                    if principal.expired():
                        raise GatewayError("the token has expired", UNAUTHENTICATED)
                    yield await to_thread.run_sync(event_of_envelope, opener, envelope, personal)
        except LiveUnavailable as error:
            raise GatewayError(str(error), UNAVAILABLE) from error
