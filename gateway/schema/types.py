"""The object types of the contract, built from the read API's views.

Personal fields (name, email, phone, address, free texts) are decided once per object
from the caller's role (`personal`): null for a role that may not see them, and null
anyway once the customer is forgotten (the views already hold None then); a role that
sees them sees each in full or partially masked, as `gateway.masking`'s matrix says.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.types import Info

from gateway.access import returned_personal
from gateway.context import GatewayContext
from gateway.errors import invalid
from gateway.roles import Permission
from gateway.schema.custom_fields import CustomFieldValue, values_of
from gateway.schema.enums import (
    Channel,
    ComplaintStatus,
    Direction,
    LifecycleStage,
    PipelineStage,
    Severity,
    Tier,
    TimelineKind,
)
from gateway.schema.execution import answers_directly
from gateway.schema.paging import direction, given, page_size
from gateway.schema.profile_lists import (
    Consent,
    Need,
    Note,
    NoteEdge,
    Order,
    OrderEdge,
    SurveyAnswer,
    TimelineEntryEdge,
    Touch,
    TouchEdge,
)
from gateway.schema.timeline import OrderLine, timeline_entry
from projections.activity import OrderView, TouchView
from projections.cursors import InvalidCursor, read_activity_cursor, read_timeline_cursor
from projections.timeline_pages import TimelineWindow
from projections.views import ComplaintView, CustomerView
from projections.views import TimelineEntry as TimelineEntryView

GInfo = Info[GatewayContext, None]


_read = returned_personal


@strawberry.type(description="Purchases of the profile (a survivor's include its duplicates').")
class PurchaseSummary:
    count: int
    total: Decimal = strawberry.field(description="In the base currency (CNY).")
    first_at: datetime | None
    last_at: datetime | None


@strawberry.type
class ChannelCount:
    channel: Channel
    count: int


@strawberry.type
class TouchSummary:
    count: int
    last_at: datetime | None
    by_channel: list[ChannelCount]


@strawberry.type
class Complaint:
    """Non-personal columns are plain fields, filled once by `of` (no resolver call per
    field); the personal ones and the computed age keep their resolvers."""

    view: strawberry.Private[ComplaintView]
    personal: strawberry.Private[bool]
    id: strawberry.ID
    customer_id: strawberry.ID
    category: str
    severity: Severity
    status: ComplaintStatus
    satisfaction: int | None
    filed_at: datetime
    escalated_at: datetime | None
    resolved_at: datetime | None
    version: int
    assignee: str | None = strawberry.field(
        description="The support agent working it; null until assigned."
    )
    assigned_at: datetime | None
    assigned_by: str | None = strawberry.field(
        description="Who made the last assignment (the token's subject)."
    )

    @classmethod
    def of(cls, view: ComplaintView, personal: bool) -> Complaint:
        return cls(
            view=view,
            personal=personal,
            id=strawberry.ID(str(view.id)),
            customer_id=strawberry.ID(str(view.customer_id)),
            category=view.category or "",
            severity=Severity(view.severity or Severity.LOW.value),
            status=ComplaintStatus(view.status),
            satisfaction=view.satisfaction,
            filed_at=view.filed_at,
            escalated_at=view.escalated_at,
            resolved_at=view.resolved_at,
            version=view.version,
            assignee=view.assignee,
            assigned_at=view.assigned_at,
            assigned_by=view.assigned_by,
        )

    @strawberry.field(description="Personal: null for roles without personal data access.")
    def description(self, info: GInfo) -> str | None:
        return _read(
            info, self.view.customer_id, "description", self.view.description, self.personal
        )

    @strawberry.field(description="Personal: null for roles without personal data access.")
    def resolution(self, info: GInfo) -> str | None:
        return _read(info, self.view.customer_id, "resolution", self.view.resolution, self.personal)

    @strawberry.field(description="Personal: null for roles without personal data access.")
    def escalation_reason(self, info: GInfo) -> str | None:
        reason = self.view.escalation_reason
        return _read(info, self.view.customer_id, "escalationReason", reason, self.personal)

    @strawberry.field(
        description="Hours the complaint has waited: from filing until it was resolved, or "
        "until the request's now while it is not; 0 for one filed with a business time "
        "still ahead."
    )
    def sla_age_hours(self, info: GInfo) -> float:
        end = self.view.resolved_at or info.context.now
        return max(0.0, round((end - self.view.filed_at).total_seconds() / 3600, 2))


@strawberry.interface(
    description="An object with a global id (Relay), fetched again by `node(id:)`. A "
    "customer's global id is its `id` as is (a UUID, as the contract has it); a merged "
    "duplicate's id fetches its survivor."
)
class Node:
    id: strawberry.ID


FORGOTTEN_OR_HIDDEN = "Null once forgotten, or when the caller may not see it."


def _personal_column(column: str, description: str) -> Any:
    """A personal column of the profile: masked for the caller's role, and noted for the
    access log when returned."""

    @answers_directly
    def resolve(root: Customer, info: GInfo) -> str | None:
        return _read(info, root.view.id, column, getattr(root.view, column), root.personal)

    return strawberry.field(resolver=resolve, description=description)


@strawberry.type(description="The 360° profile of a customer, from the read models.")
class Customer(Node):
    """The view's own columns are plain fields, filled once per row by `of`: a list page
    selects ~10 fields of 20 rows, and a resolver per field (strawberry's `Info`,
    argument parsing, the extension chain) was most of its execution. Personal fields,
    masked per role and written to the access log, and fields that load or compute keep
    their resolvers."""

    view: strawberry.Private[CustomerView]
    personal: strawberry.Private[bool]
    id: strawberry.ID
    version: int
    name: str | None = _personal_column("name", FORGOTTEN_OR_HIDDEN)
    email: str | None = _personal_column("email", FORGOTTEN_OR_HIDDEN)
    phone: str | None = _personal_column("phone", "E.164. " + FORGOTTEN_OR_HIDDEN)
    address: str | None = _personal_column("address", FORGOTTEN_OR_HIDDEN)
    company: str | None
    industry: str | None
    region: str | None
    source: str | None
    owner: str | None
    tags: list[str]
    stage: PipelineStage
    lifecycle_stage: LifecycleStage = strawberry.field(
        description="From purchases, stage and complaints (RULES.md), kept up to date by the "
        "projections, and by the scheduler when time alone moves it (day 91: AT_RISK)."
    )
    lifecycle_reason: str = strawberry.field(
        description="Why the customer is at `lifecycleStage`: the rule that matched and its "
        "facts, in words (e.g. no purchase for 91 days)."
    )
    tier: Tier = strawberry.field(
        description="From the purchases of the last 365 days in CNY (RULES.md), kept up to "
        "date by the projections and the scheduler."
    )
    tier_reason: str = strawberry.field(
        description="The purchases `tier` was decided on, in words."
    )
    purchases: PurchaseSummary
    forgotten: bool
    referred_by: strawberry.ID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: CustomerView, personal: bool) -> Customer:
        p = view.purchases
        return cls(
            view=view,
            personal=personal,
            id=strawberry.ID(str(view.id)),
            version=view.version,
            company=view.company,
            industry=view.industry,
            region=view.region,
            source=view.source,
            owner=view.owner,
            tags=list(view.tags),
            stage=PipelineStage(view.stage),
            lifecycle_stage=LifecycleStage(view.lifecycle_stage),
            lifecycle_reason=view.lifecycle_reason,
            tier=Tier(view.tier),
            tier_reason=view.tier_reason,
            purchases=PurchaseSummary(
                count=p.count, total=p.total, first_at=p.first_at, last_at=p.last_at
            ),
            forgotten=view.forgotten,
            referred_by=strawberry.ID(str(view.referred_by)) if view.referred_by else None,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )

    @strawberry.field(
        description="The custom fields set on the customer, in the order they were defined "
        "(retired fields keep their values). TEXT values are personal."
    )
    async def custom_fields(self, info: GInfo) -> list[CustomFieldValue]:
        definitions = await info.context.loaders.custom_fields.load(0)
        return values_of(info, self.view, definitions, self.personal)

    @strawberry.field
    def touches(self) -> TouchSummary:
        t = self.view.touches
        return TouchSummary(
            count=t.count,
            last_at=t.last_at,
            by_channel=[
                ChannelCount(channel=Channel(c.channel), count=c.count) for c in t.by_channel
            ],
        )

    @strawberry.field(description="Oldest first; a survivor's include its duplicates'.")
    async def complaints(
        self,
        info: Info[GatewayContext, None],
        status: ComplaintStatus | None = None,
    ) -> list[Complaint]:
        key = (self.view.id, status.value if status else None)
        found = await info.context.loaders.complaints.load(key)
        return [Complaint.of(c, self.personal) for c in found]

    @strawberry.field(
        description="What happened to the customer and its complaints, newest first, typed "
        "per kind (`types` keeps only those kinds). Keyset pages by global position: "
        "`first`/`after` walk to older entries, `last`/`before` to newer ones (`first` "
        "with either of those is refused). Each id has its own timeline (a merge does "
        "not join histories). Sales, support, compliance and admin; personal fields by role."
    )
    async def timeline(
        self,
        info: GInfo,
        first: int | None = 20,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        types: list[TimelineKind] | None = None,
    ) -> TimelineConnection:
        ctx = info.context
        ctx.require(Permission.READ_TIMELINE, "read the timeline")
        size, back = direction(
            first, after, last, before, ctx.deps.limits.max_page_size, lambda: given(info, "first")
        )
        for name, cursor in (("after", after), ("before", before)):
            try:
                if cursor is not None:
                    read_timeline_cursor(cursor)
            except InvalidCursor as error:
                raise invalid(str(error), name) from None
        kinds = None if types is None else tuple(sorted(set(types), key=lambda k: k.value))
        window = TimelineWindow(first=size, after=after, last=back, before=before, kinds=kinds)
        page = await ctx.loaders.timelines.load((self.view.id, window))
        edges = []
        for edge in page.edges:
            node = timeline_entry(info, edge.node, self.personal)
            if node is not None:
                edges.append(TimelineEntryEdge(cursor=edge.cursor, node=node))
        cursors = [e.cursor for e in page.edges]
        return TimelineConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                end_cursor=cursors[-1] if cursors else None,
                has_previous_page=page.has_previous,
                start_cursor=cursors[0] if cursors else None,
            ),
        )

    @strawberry.field(
        description="Notes written on the customer, newest first: the timeline's NOTE "
        "entries (keyset pages by global position, forwards). Same roles as `timeline`; "
        "the text is personal."
    )
    async def notes(
        self, info: GInfo, first: int | None = 20, after: str | None = None
    ) -> NoteConnection:
        ctx = info.context
        ctx.require(Permission.READ_TIMELINE, "read notes")
        size = page_size(20 if first is None else first, ctx.deps.limits.max_page_size)
        try:
            if after is not None:
                read_timeline_cursor(after)
        except InvalidCursor as error:
            raise invalid(str(error), "after") from None
        window = TimelineWindow(first=size, after=after, kinds=(TimelineKind.NOTE,))
        page = await ctx.loaders.timelines.load((self.view.id, window))
        edges = [NoteEdge(cursor=e.cursor, node=self._note(info, e.node)) for e in page.edges]
        return NoteConnection(edges=edges, page_info=_forward_info(page.has_next, after, edges))

    def _note(self, info: GInfo, entry: TimelineEntryView) -> Note:
        text = entry.data.get("text")
        return Note(
            note_id=str(entry.data.get("note_id") or ""),
            author=entry.actor,
            at=entry.occurred_at,
            text=_read(
                info, self.view.id, "text", None if text is None else str(text), self.personal
            ),
            position=entry.position,
        )

    @strawberry.field(
        description="Orders, newest first (a survivor's include its duplicates'), with "
        "their lines, currency and CNY total. Keyset pages, forwards only."
    )
    async def orders(
        self, info: GInfo, first: int | None = 20, after: str | None = None
    ) -> OrderConnection:
        ctx = info.context
        size = _activity_args(first, after, ctx.deps.limits.max_page_size)
        page = await ctx.loaders.orders.load((self.view.id, size, after))
        edges = [OrderEdge(cursor=c, node=_order(v)) for c, v in page.edges]
        return OrderConnection(edges=edges, page_info=_forward_info(page.has_next, after, edges))

    @strawberry.field(
        description="Contact touches, newest first (a survivor's include its duplicates'). "
        "Keyset pages, forwards only. `touches` has the counts."
    )
    async def touch_history(
        self, info: GInfo, first: int | None = 20, after: str | None = None
    ) -> TouchConnection:
        ctx = info.context
        size = _activity_args(first, after, ctx.deps.limits.max_page_size)
        page = await ctx.loaders.touches.load((self.view.id, size, after))
        edges = [TouchEdge(cursor=c, node=self._touch(info, v)) for c, v in page.edges]
        return TouchConnection(edges=edges, page_info=_forward_info(page.has_next, after, edges))

    def _touch(self, info: GInfo, touch: TouchView) -> Touch:
        return Touch(
            customer_id=strawberry.ID(str(touch.customer_id)),
            at=touch.occurred_at,
            channel=Channel(touch.channel),
            direction=Direction(touch.direction),
            summary=_read(info, touch.customer_id, "summary", touch.summary, self.personal),
            outcome=_read(info, touch.customer_id, "outcome", touch.outcome, self.personal),
        )

    @strawberry.field(description="Needs recorded for the customer, oldest first.")
    def open_needs(self, info: GInfo) -> list[Need]:
        cid = self.view.id
        return [
            Need(
                need_id=n.need_id,
                description=_read(info, cid, "description", n.description, self.personal),
                product_interest=_read(
                    info, cid, "productInterest", n.product_interest, self.personal
                ),
                recorded_at=n.recorded_at,
            )
            for n in self.view.needs
        ]

    @strawberry.field(
        description="The latest answer of each survey by business time (`occurredAt`: a "
        "backdated answer is history, not the latest), newest first (at most `first`)."
    )
    def latest_surveys(self, info: GInfo, first: int = 10) -> list[SurveyAnswer]:
        newest = sorted(self.view.surveys, key=lambda s: s.answered_at, reverse=True)
        return [
            SurveyAnswer(
                survey_id=s.survey_id,
                score=s.score,
                comment=_read(info, self.view.id, "comment", s.comment, self.personal),
                answered_at=s.answered_at,
            )
            for s in newest[: max(0, first)]
        ]

    @strawberry.field(
        description="The current consent per purpose (and channel): the latest decision by "
        "business time (`occurredAt`); a backdated one stays on the audit trail."
    )
    def consents(self) -> list[Consent]:
        return [
            Consent(
                purpose=c.purpose,
                channel=Channel(c.channel) if c.channel else None,
                granted=c.granted,
                changed_at=c.changed_at,
            )
            for c in self.view.consents
        ]

    @strawberry.field(description="Customers merged into this one.")
    def merged_ids(self) -> list[strawberry.ID]:
        return [strawberry.ID(str(i)) for i in self.view.merged_ids]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = strawberry.field(
        default=False,
        description="Whether items lie before the page. The customer list answers exactly "
        "both ways; the audit trail pages forwards only and says false.",
    )
    start_cursor: str | None = None


@strawberry.type(description="A customer's timeline, newest first.")
class TimelineConnection:
    edges: list[TimelineEntryEdge]
    page_info: PageInfo


@strawberry.type(description="A customer's notes, newest first.")
class NoteConnection:
    edges: list[NoteEdge]
    page_info: PageInfo


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfo


@strawberry.type
class TouchConnection:
    edges: list[TouchEdge]
    page_info: PageInfo


@strawberry.type
class ComplaintEdge:
    cursor: str
    node: Complaint


@strawberry.type(description="The complaint queue, longest waiting first.")
class ComplaintConnection:
    edges: list[ComplaintEdge]
    page_info: PageInfo


def _activity_args(first: int | None, after: str | None, most: int) -> int:
    size = page_size(20 if first is None else first, most)
    if after is not None:
        try:
            read_activity_cursor(after)
        except InvalidCursor as error:
            raise invalid(str(error), "after") from None
    return size


def _forward_info(has_next: bool, after: str | None, edges: list[Any]) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        end_cursor=edges[-1].cursor if edges else None,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
    )


def _order(order: OrderView) -> Order:
    return Order(
        order_id=order.order_id,
        customer_id=strawberry.ID(str(order.customer_id)),
        at=order.occurred_at,
        currency=order.currency,
        rate_to_cny=order.rate_to_cny,
        total=order.total,
        total_cny=order.total_cny,
        lines=[
            OrderLine(sku=li.sku, quantity=li.quantity, unit_price=li.unit_price, amount=li.amount)
            for li in order.lines
        ],
    )


@strawberry.type
class CustomerEdge:
    node: Customer
    cursor: str


TOTAL_COUNT_HELP = (
    "How many customers match the filter (merged duplicates left out), computed only "
    "when selected. Exact always. From counters the projections maintain (a lookup, "
    "whatever the list's size) with no filter or with exactly one of lifecycleStage, "
    "tier, stage, owner, region or tag; any other combination, or text, is an exact "
    "count over the dimension indexes, whose cost grows with the number of matches."
)


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description=TOTAL_COUNT_HELP)
    async def total_count(self) -> int:
        return await self.counter()


@strawberry.type
class FunnelStage:
    stage: PipelineStage
    reached: int
    conversion_from_previous: float | None


@strawberry.type
class Funnel:
    stages: list[FunnelStage]
    from_: datetime | None = strawberry.field(
        name="from",
        default=None,
        description="Start of the window (inclusive), with the business zone's offset when "
        "given as a date.",
    )
    to: datetime | None = strawberry.field(
        default=None, description="End of the window (exclusive), likewise."
    )


@strawberry.type(description="The business calendar: the deployment's zone and its today.")
class BusinessTime:
    timezone: str = strawberry.field(
        description='IANA zone (`CRM_TIMEZONE`), e.g. "Asia/Shanghai".'
    )
    now: datetime = strawberry.field(description="The request's moment, with the zone's offset.")
    today: date = strawberry.field(description="The business day in that zone.")


@strawberry.type
class LifecycleCount:
    stage: LifecycleStage
    count: int


@strawberry.type
class TierCount:
    tier: Tier
    count: int


@strawberry.type(
    description="One field an event changed, with its value right before and right after "
    "the event (computed by folding the stream's earlier events)."
)
class FieldChange:
    field: str = strawberry.field(description='State field, e.g. "email", "stage", "tags".')
    before: str | None = strawberry.field(
        description="JSON text of the value before the event; null on the stream's first "
        "event, and for a personal field the caller's role may not see, or once forgotten."
    )
    after: str | None = strawberry.field(
        description="JSON text of the value after the event; masked like `before`."
    )


@strawberry.type(description="One recorded event, as the event store (or the live topic) has it.")
class AuditEvent:
    position: int = strawberry.field(description="Global position in the event store.")
    type: str = strawberry.field(description='CloudEvents type, e.g. "crm.customer.registered.v1".')
    version: int = strawberry.field(description="Version of the event in its stream.")
    occurred_at: datetime = strawberry.field(description="Business time.")
    recorded_at: datetime
    actor: str | None
    data: str = strawberry.field(
        description="JSON text of the event's fields; personal ones null once forgotten "
        "or for roles without personal data access."
    )
    stream_id: strawberry.ID = strawberry.field(description="The aggregate the event belongs to.")
    customer_id: strawberry.ID
    correlation_id: str | None
    causation_id: str | None
    changes: list[FieldChange] = strawberry.field(
        default_factory=list,
        description="The fields this event changed, before and after, masked by role like "
        "`data` (partial masks where the role matrix says so). In `auditTrail` only: a live "
        "event (subscription) carries the event alone and lists none.",
    )


@strawberry.type
class AuditEventEdge:
    node: AuditEvent
    cursor: str


@strawberry.type
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo


@strawberry.type(description="A customer as it was at a past moment, rebuilt from the store.")
class CustomerState:
    id: strawberry.ID
    version: int
    name: str | None
    email: str | None
    phone: str | None
    company: str | None
    region: str | None
    source: str | None
    stage: PipelineStage
    tags: list[str]
    purchase_count: int
    purchase_total: Decimal
    last_purchase_at: datetime | None
    forgotten: bool
    merged_into: strawberry.ID | None
    as_of: datetime = strawberry.field(description="Business time of the version shown.")
