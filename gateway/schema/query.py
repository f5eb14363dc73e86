"""Queries: profiles and lists from the read models; audit and past states from the store."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Annotated

import strawberry
from anyio import to_thread
from strawberry.types import Info

from aggregates.customer import Customer as CustomerAggregate
from compliance.audit import customer_at
from compliance.trail import AuditRecord, audit_page
from gateway.consistency import wait_for_position
from gateway.context import GatewayContext
from gateway.cursors import audit_cursor, read_audit_cursor
from gateway.errors import TIMEOUT, GatewayError, forbidden, invalid
from gateway.reported import report_corrupted
from gateway.roles import Permission
from gateway.schema.enums import (
    ComplaintStatus,
    CustomerOrderField,
    LifecycleStage,
    PipelineStage,
    Severity,
    TaskStatus,
    Tier,
)
from gateway.schema.inputs import CustomerFilter, CustomerOrder
from gateway.schema.paging import direction, page_size
from gateway.schema.scalars import parse_id
from gateway.schema.tasks import Task, TaskConnection, TaskEdge
from gateway.schema.types import (
    AuditEvent,
    AuditEventConnection,
    AuditEventEdge,
    Complaint,
    ComplaintConnection,
    ComplaintEdge,
    Customer,
    CustomerConnection,
    CustomerEdge,
    CustomerState,
    Funnel,
    FunnelStage,
    LifecycleCount,
    Node,
    PageInfo,
    TierCount,
)
from projections import views
from projections.complaint_queue import QueueFilter, complaint_queue
from projections.counts import count_customers
from projections.cursors import InvalidCursor
from projections.keyset import Order, keyset_page
from projections.queries import funnel, lifecycle_distribution, tier_distribution
from projections.task_list import TaskFilter, task_list

GInfo = Info[GatewayContext, None]
P = Permission


def _read_filter(ctx: GatewayContext, given: CustomerFilter | None) -> views.CustomerFilter:
    if given is None:
        return views.CustomerFilter()
    if given.text and not ctx.sees_personal:
        error = forbidden("search by name, email or phone", ctx.who.role.value)
        error.extensions["field"] = "filter.text"
        raise error
    return views.CustomerFilter(
        text=given.text,
        tag=given.tag,
        tier=given.tier.value if given.tier else None,
        lifecycle_stage=given.lifecycle_stage.value if given.lifecycle_stage else None,
        stage=given.stage.value if given.stage else None,
        region=given.region,
        owner=given.owner,
    )


def audit_event(record: AuditRecord) -> AuditEvent:
    return AuditEvent(
        position=record.position,
        type=record.type,
        version=record.version,
        occurred_at=record.occurred_at,
        recorded_at=record.recorded_at,
        actor=record.actor,
        data=json.dumps(record.data, ensure_ascii=False),
        stream_id=strawberry.ID(str(record.stream_id)),
        customer_id=strawberry.ID(str(record.customer_id)),
        correlation_id=str(record.correlation_id) if record.correlation_id else None,
        causation_id=str(record.causation_id) if record.causation_id else None,
    )


def customer_state(aggregate: CustomerAggregate, personal: bool) -> CustomerState:
    def shown(value: str | None) -> str | None:
        return value if personal else None

    return CustomerState(
        id=strawberry.ID(str(aggregate.id)),
        version=aggregate.version,
        name=shown(aggregate.name),
        email=shown(aggregate.email),
        phone=shown(aggregate.phone),
        company=aggregate.company,
        region=aggregate.region,
        source=aggregate.source,
        stage=PipelineStage(aggregate.stage),
        tags=list(aggregate.tags),
        purchase_count=aggregate.purchase_count,
        purchase_total=aggregate.purchase_total_cny,
        last_purchase_at=aggregate.last_purchase_at,
        forgotten=aggregate.forgotten,
        merged_into=strawberry.ID(str(aggregate.merged_into)) if aggregate.merged_into else None,
        as_of=aggregate.modified_on,
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="The 360° profile. With `atLeast`, waits until read models include "
        "that position (bounded; then a TIMEOUT error)."
    )
    async def customer(
        self, info: GInfo, id: strawberry.ID, at_least: int | None = None
    ) -> Customer | None:
        ctx = info.context
        ctx.require(P.READ_CUSTOMERS, "read customers")
        customer_id = parse_id(id, "id")
        if at_least is not None:
            if at_least < 0:
                raise invalid("atLeast must not be negative", "atLeast")
            limit = ctx.deps.limits.read_wait_seconds
            started = time.monotonic()
            reached, applied = await wait_for_position(ctx.deps, customer_id, at_least, limit)
            if not reached:
                raise GatewayError(
                    f"the read models have reached position {applied} for this customer, "
                    f"not {at_least}, after waiting {time.monotonic() - started:.1f}s; "
                    "try again shortly",
                    TIMEOUT,
                    "atLeast",
                    reached=applied,
                )
        view = await ctx.loaders.customers.load(customer_id)
        return Customer(view=view, personal=ctx.sees_personal) if view else None

    @strawberry.field(description="The customer (or any object) with this global id (Relay).")
    async def node(self, info: GInfo, id: strawberry.ID) -> Node | None:
        ctx = info.context
        ctx.require(P.READ_CUSTOMERS, "read customers")
        view = await ctx.loaders.customers.load(parse_id(id, "id"))
        return Customer(view=view, personal=ctx.sees_personal) if view else None

    @strawberry.field(
        description="Relay connection; filter by text, tag, tier, lifecycle stage, pipeline "
        "stage, owner, region; ordered by `orderBy` (default: oldest first). Keyset pages "
        "by (sort key, id), no OFFSET: `first`/`after` forwards, `last`/`before` backwards "
        "(with `last` or `before`, `first` is ignored). Cursors are opaque and belong to "
        "their order. `totalCount` is computed only when selected; see its description "
        "for which filters are counter lookups."
    )
    async def customers(
        self,
        info: GInfo,
        filter: CustomerFilter | None = None,
        first: int | None = 20,
        after: str | None = None,
        order_by: CustomerOrder | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> CustomerConnection:
        ctx = info.context
        ctx.require(P.READ_CUSTOMERS, "read customers")
        size, back = direction(first, after, last, before, ctx.deps.limits.max_page_size)
        where = _read_filter(ctx, filter)
        order = order_by or CustomerOrder()
        if order.field is CustomerOrderField.NAME and not ctx.sees_personal:
            error = forbidden("order customers by name", ctx.who.role.value)
            error.extensions["field"] = "orderBy.field"
            raise error
        deps = ctx.deps
        keyed = Order(order.field.value, order.direction.value)
        try:
            page = await deps.reads.run(
                keyset_page, where, keyed, first=size, after=after, last=back, before=before
            )
        except InvalidCursor as error:
            raise invalid(str(error), "after" if back is None else "before") from None
        ctx.loaders.prime_customers([edge.node for edge in page.rows])

        async def counter() -> int:
            return await deps.reads.run(count_customers, where)

        return CustomerConnection(
            edges=[
                CustomerEdge(
                    node=Customer(view=e.node, personal=ctx.sees_personal), cursor=e.cursor
                )
                for e in page.rows
            ],
            page_info=PageInfo(
                has_next_page=page.has_next,
                end_cursor=page.end_cursor,
                has_previous_page=page.has_previous,
                start_cursor=page.start_cursor,
            ),
            counter=counter,
        )

    @strawberry.field(
        description="Complaints across customers, longest waiting (largest SLA age) first: "
        "filed earliest first, ties by id. No `status` means the unresolved ones (OPEN and "
        "ESCALATED). `olderThanHours` keeps those filed at least that many hours before "
        "now; `unassigned` those nobody was assigned to. Keyset pages, forwards only. "
        "Sales, support, compliance and admin; descriptions by role."
    )
    async def complaint_queue(
        self,
        info: GInfo,
        status: ComplaintStatus | None = None,
        severity: Severity | None = None,
        assignee: str | None = None,
        older_than_hours: int | None = None,
        unassigned: bool = False,
        first: int | None = 20,
        after: str | None = None,
    ) -> ComplaintConnection:
        ctx = info.context
        ctx.require(P.READ_COMPLAINT_QUEUE, "read the complaint queue")
        size = page_size(20 if first is None else first, ctx.deps.limits.max_page_size)
        if older_than_hours is not None and older_than_hours < 0:
            raise invalid("olderThanHours must not be negative", "olderThanHours")
        where = QueueFilter(
            status=status.value if status else None,
            severity=severity.value if severity else None,
            assignee=assignee,
            unassigned=unassigned,
            filed_before=None
            if older_than_hours is None
            else ctx.now - timedelta(hours=older_than_hours),
        )
        try:
            page = await ctx.deps.reads.run(complaint_queue, where, first=size, after=after)
        except InvalidCursor as error:
            raise invalid(str(error), "after") from None
        edges = [
            ComplaintEdge(cursor=e.cursor, node=Complaint(view=e.node, personal=ctx.sees_personal))
            for e in page.edges
        ]
        return ComplaintConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                end_cursor=edges[-1].cursor if edges else None,
                has_previous_page=page.has_previous,
                start_cursor=edges[0].cursor if edges else None,
            ),
        )

    @strawberry.field(
        description="The caller's own follow-up tasks (assignee = the token's subject), "
        "soonest due first; `status` keeps one status (OVERDUE: due time passed, still "
        "open), `dueBefore` those due before that moment. Keyset pages, forwards."
    )
    async def my_tasks(
        self,
        info: GInfo,
        status: TaskStatus | None = None,
        due_before: datetime | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> TaskConnection:
        ctx = info.context
        principal = ctx.require(P.READ_OWN_TASKS, "read tasks")
        size = page_size(20 if first is None else first, ctx.deps.limits.max_page_size)
        where = TaskFilter(
            assignee=principal.subject,
            status=status.value if status else None,
            due_before=due_before,
        )
        try:
            page = await ctx.deps.reads.run(task_list, where, first=size, after=after)
        except InvalidCursor as error:
            raise invalid(str(error), "after") from None
        edges = [
            TaskEdge(cursor=e.cursor, node=Task(view=e.node, personal=ctx.sees_personal))
            for e in page.edges
        ]
        return TaskConnection(
            edges=edges,
            has_next_page=page.has_next,
            end_cursor=edges[-1].cursor if edges else None,
        )

    @strawberry.field(
        description="Conversion through the pipeline for customers created in the window "
        "[from, to)."
    )
    async def funnel(
        self,
        info: GInfo,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        source: str | None = None,
    ) -> Funnel:
        ctx = info.context
        ctx.require(P.READ_ANALYTICS, "read the funnel")
        steps = await ctx.deps.reads.run(funnel, from_, to, source)
        return Funnel(
            stages=[
                FunnelStage(
                    stage=PipelineStage(s.stage),
                    reached=s.reached,
                    conversion_from_previous=s.conversion_from_previous,
                )
                for s in steps
            ]
        )

    @strawberry.field
    async def lifecycle_distribution(self, info: GInfo) -> list[LifecycleCount]:
        ctx = info.context
        ctx.require(P.READ_ANALYTICS, "read distributions")
        counts = await ctx.deps.reads.run(lifecycle_distribution)
        return [LifecycleCount(stage=LifecycleStage(c.stage), count=c.count) for c in counts]

    @strawberry.field
    async def tier_distribution(self, info: GInfo) -> list[TierCount]:
        ctx = info.context
        ctx.require(P.READ_ANALYTICS, "read distributions")
        counts = await ctx.deps.reads.run(tier_distribution)
        return [TierCount(tier=Tier(c.tier), count=c.count) for c in counts]

    @strawberry.field(
        description="Every event of one customer (and its complaints), oldest first, from "
        "the event store."
    )
    async def audit_trail(
        self,
        info: GInfo,
        customer_id: strawberry.ID,
        first: int | None = 100,
        after: str | None = None,
    ) -> AuditEventConnection:
        ctx = info.context
        ctx.require(P.READ_AUDIT, "read the audit trail")
        cid = parse_id(customer_id, "customerId")
        size = page_size(100 if first is None else first, ctx.deps.limits.max_audit_page_size)
        start = read_audit_cursor(after) if after is not None else 0
        records, has_next, corrupted = await to_thread.run_sync(
            lambda: audit_page(
                ctx.deps.app, cid, after=start, first=size, personal=ctx.sees_personal
            )
        )
        report_corrupted(info, corrupted)
        for r in records:
            returned = [f for f in r.personal_fields if r.data.get(f) is not None]
            ctx.access.note("graphql:auditTrail", r.customer_id, returned)
        edges = [
            AuditEventEdge(node=audit_event(r), cursor=audit_cursor(r.position)) for r in records
        ]
        return AuditEventConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next,
                end_cursor=edges[-1].cursor if edges else None,
                start_cursor=edges[0].cursor if edges else None,
            ),
        )

    @strawberry.field(
        description="The customer as it was at a past moment, rebuilt from the event store."
    )
    async def customer_as_of(
        self, info: GInfo, id: strawberry.ID, at: datetime
    ) -> CustomerState | None:
        ctx = info.context
        ctx.require(P.READ_AUDIT, "read past states")
        cid = parse_id(id, "id")
        aggregate, corrupted = await to_thread.run_sync(customer_at, ctx.deps.app, cid, at)
        report_corrupted(info, corrupted)
        if aggregate is None:
            return None
        state = customer_state(aggregate, ctx.sees_personal)
        shown = {"name": state.name, "email": state.email, "phone": state.phone}
        ctx.access.note("graphql:customerAsOf", cid, [f for f, v in shown.items() if v])
        return state
