"""Subscriptions over WebSocket (graphql-transport-ws): live events from Kafka."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from anyio import to_thread
from strawberry.types import Info

from events import TaskFellDue
from gateway import masking
from gateway.access import note_returned, record_now
from gateway.context import GatewayContext
from gateway.errors import NOT_FOUND, UNAUTHENTICATED, UNAVAILABLE, GatewayError
from gateway.live import LiveUnavailable
from gateway.live_scope import LiveScope
from gateway.roles import Permission, Role, sees_personal
from gateway.schema.enums import TaskKind
from gateway.schema.scalars import parse_optional_id
from gateway.schema.types import AuditEvent
from projections.task_list import task_by_id
from streams.source import WIRE_PREFIX, EnvelopeOpener

GInfo = Info[GatewayContext, None]
OPERATION = "graphql:customerEvents"
REMINDERS = "graphql:taskReminders"
FELL_DUE = TaskFellDue.cloudevents_type()


@strawberry.type(description="A task of yours fell due (the scheduler found it overdue).")
class TaskReminder:
    task_id: strawberry.ID
    customer_id: strawberry.ID
    kind: TaskKind
    due_at: datetime
    at: datetime = strawberry.field(description="When the scheduler recorded it overdue.")
    position: int
    title: str | None = strawberry.field(description="Personal: null without access.")


def reminder_for(subject: str) -> Callable[[dict[str, Any]], bool]:
    """Which envelopes are reminders for `subject`: its own tasks falling due."""

    def match(envelope: dict[str, Any]) -> bool:
        data = envelope.get("data") or {}
        return envelope.get("type") == FELL_DUE and data.get("assignee") == subject

    return match


def _redacted(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: None if isinstance(v, str) and v.startswith(WIRE_PREFIX) else v for k, v in data.items()
    }


def opened_fields(envelope: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
    """Personal fields (sealed on the wire) that came back opened, for the access log."""
    sealed = _redacted(envelope.get("data") or {})
    return [k for k, v in sealed.items() if v is None and data.get(k) is not None]


def event_of_envelope(
    opener: EnvelopeOpener, envelope: Mapping[str, Any], role: Role
) -> tuple[AuditEvent, list[str]]:
    """An AuditEvent of a Kafka envelope, personal fields opened (then masked per the
    role's row of `gateway.masking`) or nulled, and the personal fields it returns."""
    if not sees_personal(role):
        return _audit_event(envelope, _redacted(envelope.get("data") or {})), []
    sealed = _redacted(envelope.get("data") or {})
    data = {
        k: masking.shown(role, k, v) if sealed.get(k) is None and isinstance(v, str) else v
        for k, v in opener.open(envelope)["data"].items()
    }
    return _audit_event(envelope, data), opened_fields(envelope, data)


def _audit_event(envelope: Mapping[str, Any], data: Mapping[str, Any]) -> AuditEvent:
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
        scoped = LiveScope(ctx.deps, await ctx.scope())
        if (
            wanted is not None
            and scoped.scope is not None
            and await ctx.loaders.customers.load(wanted) is None
        ):
            raise GatewayError(f"no customer {wanted}", NOT_FOUND, "customerId")
        opener = EnvelopeOpener(ctx.deps.app)
        try:
            async with live.subscribe(wanted) as subscriber:
                while True:
                    envelope = await subscriber.queue.get()
                    if envelope is None:
                        raise GatewayError("live events stopped; subscribe again", UNAVAILABLE)
                    if principal.expired():
                        raise GatewayError("the token has expired", UNAUTHENTICATED)
                    if not await scoped.admits(envelope):
                        continue
                    event, opened = await to_thread.run_sync(
                        event_of_envelope, opener, envelope, principal.role
                    )
                    ctx.access.note(OPERATION, UUID(str(envelope["subject"])), opened)
                    record_now(ctx)  # per event delivered: the subscription never "ends"
                    yield event
        except LiveUnavailable as error:
            raise GatewayError(str(error), UNAVAILABLE) from error

    @strawberry.subscription(
        description="Reminders of the caller's own tasks (assignee = the token's subject) "
        "on customers in the caller's scope as they fall due: one per task when the "
        "scheduler records it OVERDUE."
    )
    async def task_reminders(self, info: GInfo) -> AsyncGenerator[TaskReminder, None]:
        ctx = info.context
        principal = ctx.require(Permission.READ_OWN_TASKS, "receive task reminders")
        live = ctx.deps.live
        if live is None:
            raise GatewayError("live events are not configured on this gateway", UNAVAILABLE)
        scoped = LiveScope(ctx.deps, await ctx.scope())
        try:
            async with live.subscribe(None, reminder_for(principal.subject)) as subscriber:
                while True:
                    envelope = await subscriber.queue.get()
                    if envelope is None:
                        raise GatewayError("live events stopped; subscribe again", UNAVAILABLE)
                    if principal.expired():
                        raise GatewayError("the token has expired", UNAUTHENTICATED)
                    if await scoped.admits(envelope):  # a task of a customer in scope
                        yield await _reminder(info, envelope)
        except LiveUnavailable as error:
            raise GatewayError(str(error), UNAVAILABLE) from error


async def _reminder(info: GInfo, envelope: Mapping[str, Any]) -> TaskReminder:
    ctx = info.context
    data, task_id = envelope.get("data") or {}, UUID(str(envelope["stream"]))
    customer_id = UUID(str(envelope["subject"]))
    title = None
    if ctx.sees_personal:
        view = await ctx.deps.reads.run(task_by_id, task_id)
        title = view.title if view is not None else None
        note_returned(info, customer_id, "title", title)
        record_now(ctx)
    return TaskReminder(
        task_id=strawberry.ID(str(task_id)),
        customer_id=strawberry.ID(str(customer_id)),
        kind=TaskKind(data.get("kind")),
        due_at=datetime.fromisoformat(str(data.get("due_at"))),
        at=datetime.fromisoformat(str(envelope["time"])),
        position=int(envelope["position"]),
        title=title,
    )
