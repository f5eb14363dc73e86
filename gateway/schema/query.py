"""Queries: profiles and lists from the read models; audit and past states from the store."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import strawberry
from anyio import to_thread
from graphql import FieldNode
from strawberry.types import Info

from aggregates.customer import Customer as CustomerAggregate
from compliance.audit import changes_until, customer_at
from compliance.changes import FieldChange as ChangedField
from compliance.trail import AuditRecord, audit_page
from gateway import masking
from gateway.consistency import wait_for_position
from gateway.context import GatewayContext
from gateway.cursors import audit_cursor, read_audit_cursor
from gateway.errors import TIMEOUT, GatewayError, forbidden, invalid
from gateway.reported import report_corrupted
from gateway.roles import Permission, Role
from gateway.schema.chain import ChainStatus, verified_chain
from gateway.schema.custom_fields import CustomFieldDefinition, conditions_of, definition_of
from gateway.schema.duplicates import DuplicateQuery
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
from gateway.schema.organisation import OrganisationQuery
from gateway.schema.paging import direction, given, page_size
from gateway.schema.revenue import MonthRevenue, month_revenue
from gateway.schema.scalars import parse_id
from gateway.schema.subject_export import SubjectExport, export_subject
from gateway.schema.tasks import Task, TaskConnection, TaskEdge
from gateway.schema.types import (
    AuditEvent,
    AuditEventConnection,
    AuditEventEdge,
    BusinessTime,
    Complaint,
    ComplaintConnection,
    ComplaintEdge,
    Customer,
    CustomerConnection,
    CustomerEdge,
    CustomerState,
    FieldChange,
    Funnel,
    FunnelStage,
    LifecycleCount,
    Node,
    PageInfo,
    TierCount,
)
from gateway.schema.viewer import ViewerQuery
from projections import views
from projections.business_time import day_window, today
from projections.business_time import zone as business_zone
from projections.complaint_queue import QueueFilter, complaint_queue
from projections.counts import count_customers
from projections.cursors import InvalidCursor
from projections.keyset import Order
from projections.queries import funnel, lifecycle_distribution, page_and_count, tier_distribution
from projections.revenue import MAX_MONTHS, revenue_by_month
from projections.task_list import TaskFilter, task_list

GInfo = Info[GatewayContext, None]
P = Permission
MAX_AGE_HOURS = 876_000
"""`olderThanHours` at most 100 years: far past any complaint, and well inside the dates
Python can subtract it from (17,758,871 hours overflowed: an INTERNAL error, not a
VALIDATION one)."""


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


async def _out_of_scope(ctx: GatewayContext, customer_id: UUID) -> bool:
    """Whether a scoped caller cannot see this customer (as far as the read model says)."""
    return await ctx.scope() is not None and await ctx.loaders.customers.load(customer_id) is None


def field_change(change: ChangedField, role: Role) -> FieldChange:
    """A change as the role sees it: personal values masked like the profile's fields."""

    def text(value: Any) -> str | None:
        if change.personal:
            value = masking.shown(role, change.field, value if isinstance(value, str) else None)
        return None if value is None else json.dumps(value, ensure_ascii=False)

    return FieldChange(field=change.field, before=text(change.before), after=text(change.after))


def _selects(selections: Sequence[Any], name: str) -> bool:
    """Whether a field called `name` is selected anywhere below (fragments included)."""
    return any(
        getattr(s, "name", None) == name or _selects(getattr(s, "selections", None) or [], name)
        for s in selections
    )


def audit_event(
    record: AuditRecord, changes: Sequence[ChangedField] = (), role: Role | None = None
) -> AuditEvent:
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
        changes=[field_change(c, role) for c in changes] if role is not None else [],
    )


def customer_state(aggregate: CustomerAggregate, role: Role) -> CustomerState:
    def shown(value: str | None, field: str) -> str | None:
        return masking.shown(role, field, value)

    return CustomerState(
        id=strawberry.ID(str(aggregate.id)),
        version=aggregate.version,
        name=shown(aggregate.name, "name"),
        email=shown(aggregate.email, "email"),
        phone=shown(aggregate.phone, "phone"),
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


def _selects_directly(info: GInfo, name: str) -> bool:
    """Whether the field being resolved selects `name` directly, with no argument and no
    directive: then its read can ride in the field's own trip to the pool. A selection
    through a fragment, or under `@include`/`@skip`, is left to the child's resolver,
    which is as correct. Read from the document's nodes: strawberry's `selected_fields`
    converts the whole selection tree (~15% of a 360° query's resolver)."""
    return any(
        isinstance(child, FieldNode)
        and child.name.value == name
        and not child.arguments
        and not child.directives
        for node in info._raw_info.field_nodes
        if node.selection_set is not None
        for child in node.selection_set.selections
    )


@strawberry.type
class Query(DuplicateQuery, OrganisationQuery, ViewerQuery):
    @strawberry.field(
        description="The custom field definitions, oldest first (`retired: true` too when "
        "`includeRetired`). Every role that reads customers."
    )
    async def custom_fields(
        self, info: GInfo, include_retired: bool = False
    ) -> list[CustomFieldDefinition]:
        ctx = info.context
        ctx.require(P.READ_CUSTOMERS, "read custom field definitions")
        found = await ctx.loaders.custom_fields.load(0)
        return [definition_of(d) for d in found if include_retired or not d.retired]

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
            if not reached and await _out_of_scope(ctx, customer_id):
                return None  # the TIMEOUT's `reached` would tell that the id exists
            if not reached:
                raise GatewayError(
                    f"the read models have reached position {applied} for this customer, "
                    f"not {at_least}, after waiting {time.monotonic() - started:.1f}s; "
                    "try again shortly",
                    TIMEOUT,
                    "atLeast",
                    reached=applied,
                )
        if _selects_directly(info, "complaints"):
            view = await ctx.loaders.profile_with_complaints(customer_id)
        else:
            view = await ctx.loaders.customers.load(customer_id)
        return Customer.of(view, ctx.sees_personal) if view else None

    @strawberry.field(
        description="The object with this global id (Relay); customers are the one `Node` "
        "type, so any other id (a complaint's, an unknown one) gives null. A merged "
        "duplicate's id gives its survivor, whose `id` differs from the one asked (a "
        "merge joins the two profiles); `customer(id:)` does the same."
    )
    async def node(self, info: GInfo, id: strawberry.ID) -> Node | None:
        ctx = info.context
        ctx.require(P.READ_CUSTOMERS, "read customers")
        view = await ctx.loaders.customers.load(parse_id(id, "id"))
        return Customer.of(view, ctx.sees_personal) if view else None

    @strawberry.field(
        description="Relay connection; filter by text, tag, tier, lifecycle stage, pipeline "
        "stage, owner, region; ordered by `orderBy` (default: oldest first). Keyset pages "
        "by (sort key, id), no OFFSET: `first`/`after` forwards, `last`/`before` backwards "
        "(`first` with `last` or `before` is refused). Cursors are opaque and belong to "
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
        size, back = direction(
            first, after, last, before, ctx.deps.limits.max_page_size, lambda: given(info, "first")
        )
        where = replace(_read_filter(ctx, filter), owners=await ctx.scope())
        if filter is not None and filter.custom_fields:
            definitions = await ctx.loaders.custom_fields.load(0)
            where = replace(where, custom_fields=conditions_of(filter.custom_fields, definitions))
        order = order_by or CustomerOrder()
        if order.field is CustomerOrderField.NAME and not ctx.sees_personal:
            error = forbidden("order customers by name", ctx.who.role.value)
            error.extensions["field"] = "orderBy.field"
            raise error
        deps = ctx.deps
        keyed = Order(order.field.value, order.direction.value)
        counted = _selects_directly(info, "totalCount")
        try:
            page, total = await deps.reads.run(
                page_and_count,
                where,
                keyed,
                counted,
                first=size,
                after=after,
                last=back,
                before=before,
            )
        except InvalidCursor as error:
            raise invalid(str(error), "after" if back is None else "before") from None
        ctx.loaders.prime_customers([edge.node for edge in page.rows])

        async def counter() -> int:
            return total if total is not None else await deps.reads.run(count_customers, where)

        return CustomerConnection(
            edges=[
                CustomerEdge(node=Customer.of(e.node, ctx.sees_personal), cursor=e.cursor)
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
        f"ESCALATED). `olderThanHours` (0 to {MAX_AGE_HOURS:,}) keeps those filed at least "
        "that many hours before now; `unassigned` those nobody was assigned to. Keyset "
        "pages, forwards only. Sales, support, compliance and admin; descriptions by role."
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
        if older_than_hours is not None and not 0 <= older_than_hours <= MAX_AGE_HOURS:
            raise invalid(
                f"olderThanHours must be from 0 to {MAX_AGE_HOURS} (100 years)", "olderThanHours"
            )
        where = QueueFilter(
            status=status.value if status else None,
            severity=severity.value if severity else None,
            assignee=assignee,
            unassigned=unassigned,
            filed_before=None
            if older_than_hours is None
            else ctx.now - timedelta(hours=older_than_hours),
            owners=await ctx.scope(),
        )
        try:
            page = await ctx.deps.reads.run(complaint_queue, where, first=size, after=after)
        except InvalidCursor as error:
            raise invalid(str(error), "after") from None
        edges = [
            ComplaintEdge(cursor=e.cursor, node=Complaint.of(e.node, ctx.sees_personal))
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
        description="The caller's own follow-up tasks (assignee = the token's subject) on "
        "customers in the caller's scope, soonest due first; `status` keeps one status "
        "(OVERDUE: due time passed, still open), `dueBefore` those due before that moment. "
        "Keyset pages, forwards."
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
            owners=await ctx.scope(),
        )
        try:
            page = await ctx.deps.reads.run(task_list, where, first=size, after=after)
        except InvalidCursor as error:
            raise invalid(str(error), "after") from None
        edges = [
            TaskEdge(cursor=e.cursor, node=Task(view=e.node, personal=ctx.sees_personal))
            for e in page.edges
        ]
        end = edges[-1].cursor if edges else None
        return TaskConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                end_cursor=end,
                start_cursor=edges[0].cursor if edges else None,
            ),
            has_next_page=page.has_next,
            end_cursor=end,
        )

    @strawberry.field(
        description="Conversion through the pipeline for customers created in the window "
        "[from, to), or in the whole business days fromDate..toDate (inclusive, in the "
        "deployment's zone, `CRM_TIMEZONE`); a moment and a date for the same end are "
        "refused, and so is a window that ends before it starts (VALIDATION on `to` or "
        "`toDate`)."
    )
    async def funnel(
        self,
        info: GInfo,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        source: str | None = None,
        from_date: date | None = None,
        to_date: date | None = None,
    ) -> Funnel:
        ctx = info.context
        ctx.require(P.READ_ANALYTICS, "read the funnel")
        if from_ is not None and from_date is not None:
            raise invalid("give from or fromDate, not both", "fromDate")
        if to is not None and to_date is not None:
            raise invalid("give to or toDate, not both", "toDate")
        if from_date is not None and to_date is not None and to_date < from_date:
            raise invalid("toDate must not be before fromDate", "toDate")
        first, end = day_window(from_date, to_date, ctx.deps.timezone)
        from_, to = from_ or first, to or end
        if from_ is not None and to is not None and to < from_:
            field = "toDate" if to_date is not None else "to"
            raise invalid("the window must not end before it starts", field)
        steps = await ctx.deps.reads.run(funnel, from_, to, source)
        return Funnel(
            from_=from_,
            to=to,
            stages=[
                FunnelStage(
                    stage=PipelineStage(s.stage),
                    reached=s.reached,
                    conversion_from_previous=s.conversion_from_previous,
                )
                for s in steps
            ],
        )

    @strawberry.field(description="The deployment's business zone, now and today in it.")
    def business_time(self, info: GInfo) -> BusinessTime:
        ctx = info.context
        ctx.require(P.READ_CUSTOMERS, "read the business calendar")
        zone_name = ctx.deps.timezone
        return BusinessTime(
            timezone=zone_name,
            now=ctx.now.astimezone(business_zone(zone_name)),
            today=today(ctx.now, zone_name),
        )

    @strawberry.field(
        description="Revenue (CNY) by calendar month in the business zone (`CRM_TIMEZONE`), the "
        "last `months` (1 to 60) up to this one, oldest first; months without purchases are 0."
    )
    async def revenue_by_month(self, info: GInfo, months: int = 12) -> list[MonthRevenue]:
        ctx = info.context
        ctx.require(P.READ_ANALYTICS, "read revenue")
        if not 1 <= months <= MAX_MONTHS:
            raise invalid(f"months must be 1 to {MAX_MONTHS}", "months")
        rows = await ctx.deps.reads.run(
            revenue_by_month, now=ctx.now, zone=ctx.deps.timezone, months=months
        )
        return [month_revenue(row) for row in rows]

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
        description="The hash chain over the whole event store, verified now (as `crm audit "
        "verify`, without its outside checkpoint). Compliance and admin."
    )
    async def audit_chain(self, info: GInfo) -> ChainStatus:
        ctx = info.context
        ctx.require(P.READ_AUDIT, "verify the hash chain")
        return await verified_chain(ctx.deps.app)

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
        changes: dict[int, tuple[ChangedField, ...]] = {}
        if records and _selects(info.selected_fields, "changes"):
            last = records[-1].position
            changes = await to_thread.run_sync(
                lambda: changes_until(
                    ctx.deps.app, cid, last, redact=not ctx.sees_personal, after=start
                )
            )
        role = ctx.who.role
        for r in records:
            returned = [f for f in r.personal_fields if r.data.get(f) is not None]
            returned += [
                c.field
                for c in changes.get(r.position, ())
                if c.personal and masking.shown(role, c.field, c.before or c.after) is not None
            ]
            ctx.access.note("graphql:auditTrail", r.customer_id, sorted(set(returned)))
        edges = [
            AuditEventEdge(
                node=audit_event(r, changes.get(r.position, ()), role),
                cursor=audit_cursor(r.position),
            )
            for r in records
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
        description="Everything the platform holds about one customer (event store, read "
        "models, analytics rows, access log) as the verifiable document `crm audit export` "
        "writes. Compliance and admin."
    )
    async def subject_export(self, info: GInfo, customer_id: strawberry.ID) -> SubjectExport:
        ctx = info.context
        # READ_AUDIT, as for the trail it contains: compliance and admin, the roles that
        # may also forget the customer. The document is unmasked; both see every field
        # in full anyway (`gateway.masking`; tests/unit/test_masking.py pins that).
        principal = ctx.require(P.READ_AUDIT, "export a customer's data")
        cid = parse_id(customer_id, "customerId")
        built = await export_subject(ctx.deps, cid, principal.subject)
        report_corrupted(info, built.corrupted)
        ctx.access.note("graphql:subjectExport", cid, sorted(built.personal_fields))
        return built.answer

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
        state = customer_state(aggregate, ctx.who.role)
        shown = {"name": state.name, "email": state.email, "phone": state.phone}
        ctx.access.note("graphql:customerAsOf", cid, [f for f, v in shown.items() if v])
        return state
