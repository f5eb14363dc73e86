"""The timeline's GraphQL types: one interface, one concrete type per kind of entry.

Built from rm_timeline rows (`projections.timeline_pages`): the row keeps the event's
data as delivered, so each entry reads its fields from there. Personal fields (names,
contacts, free texts and reasons) follow the role as everywhere else: null for a role
without personal data access (and null anyway once the customer is forgotten), noted
in the access log when returned. `summary` is built from non-personal fields only, so
it reads the same for every role.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from gateway.access import returned_personal
from gateway.schema.enums import (
    Channel,
    CustomFieldType,
    Direction,
    LifecycleStage,
    PipelineStage,
    Severity,
    TaskKind,
    TaskStatus,
    Tier,
    TimelineKind,
)
from projections.incoming import split_type
from projections.timeline_kinds import KIND_OF_TYPE
from projections.views import TimelineEntry as EntryView

Data = Mapping[str, Any]


@strawberry.type(description="One line of an order, amounts in the order's currency.")
class OrderLine:
    sku: str
    quantity: int
    unit_price: Decimal
    amount: Decimal


@strawberry.interface(
    description="One thing that happened to a customer (or one of its complaints), as "
    "the timeline shows it. Each kind has its own type with the kind's fields."
)
class TimelineEntry:
    id: strawberry.ID = strawberry.field(description="The event's id.")
    kind: TimelineKind
    at: datetime = strawberry.field(description="Business time of the event.")
    actor: str | None = strawberry.field(
        description="Who caused it (the token's subject; system:scheduler for time-driven)."
    )
    position: int = strawberry.field(description="Global position in the event store.")
    summary: str = strawberry.field(
        description="One line for people, from non-personal fields only (same for every role)."
    )


@strawberry.type(description="REGISTERED: the customer was registered (contacts personal).")
class RegisteredEntry(TimelineEntry):
    name: str | None
    email: str | None
    phone: str | None
    company: str | None
    region: str | None
    source: str | None
    owner: str | None


@strawberry.type(
    description="DETAILS_CHANGED: contact details changed; only the `changed` fields are set."
)
class DetailsChangedEntry(TimelineEntry):
    changed: list[str] = strawberry.field(description="Names of the fields that changed.")
    name: str | None
    email: str | None
    phone: str | None
    address: str | None
    company: str | None


@strawberry.type(description="TAGGED: tags added or removed.")
class TaggedEntry(TimelineEntry):
    added: list[str]
    removed: list[str]


@strawberry.type(description="PURCHASE: an order with its lines, in its currency and in CNY.")
class PurchaseEntry(TimelineEntry):
    order_id: str
    total: Decimal = strawberry.field(description="In `currency`.")
    currency: str
    total_cny: Decimal = strawberry.field(description="In the base currency (CNY).")
    lines: list[OrderLine]


@strawberry.type(
    description="TOUCH: a contact on some channel (`summaryText` and `outcome` personal)."
)
class TouchEntry(TimelineEntry):
    channel: Channel | None = strawberry.field(
        description="Always set; nullable like ConsentEntry.channel, so one query can select both."
    )
    direction: Direction
    summary_text: str | None = strawberry.field(description="The touch's own summary (personal).")
    outcome: str | None


@strawberry.type(description="NEED: a need was recorded (texts personal).")
class NeedEntry(TimelineEntry):
    need_id: str
    description: str | None
    product_interest: str | None


@strawberry.type(description="COMPLAINT_FILED: a complaint was filed (description personal).")
class ComplaintFiledEntry(TimelineEntry):
    complaint_id: strawberry.ID
    category: str
    severity: Severity
    description: str | None


@strawberry.type(description="COMPLAINT_ESCALATED: by hand (with a reason) or by the rules.")
class ComplaintEscalatedEntry(TimelineEntry):
    complaint_id: strawberry.ID
    reason: str | None
    automatic: bool = strawberry.field(description="True when the rules escalated it (CRITICAL).")


@strawberry.type(description="COMPLAINT_ASSIGNED: handed to a support agent.")
class ComplaintAssignedEntry(TimelineEntry):
    complaint_id: strawberry.ID
    assignee: str
    previous_assignee: str | None


@strawberry.type(
    description="COMPLAINT_RESOLVED: closed, with the customer's satisfaction if given."
)
class ComplaintResolvedEntry(TimelineEntry):
    complaint_id: strawberry.ID
    resolution: str | None
    satisfaction: int | None


@strawberry.type(description="STAGE_MOVE: the pipeline stage moved (a backward move has a reason).")
class StageMoveEntry(TimelineEntry):
    from_: PipelineStage = strawberry.field(name="from")
    to: PipelineStage
    reason: str | None


@strawberry.type(
    description="LIFECYCLE_CHANGE: time alone moved the lifecycle stage or the tier "
    "(recorded by the scheduler); the other pair is null."
)
class LifecycleChangeEntry(TimelineEntry):
    from_stage: LifecycleStage | None
    to_stage: LifecycleStage | None
    from_tier: Tier | None
    to_tier: Tier | None
    reason: str | None


@strawberry.type(description="SURVEY: a satisfaction survey was answered (comment personal).")
class SurveyEntry(TimelineEntry):
    survey_id: str
    score: int
    comment: str | None


@strawberry.type(description="CONSENT: consent granted or withdrawn.")
class ConsentEntry(TimelineEntry):
    purpose: str
    channel: Channel | None = strawberry.field(description="Null: the whole purpose.")
    granted: bool


@strawberry.type(
    description="OWNER_CHANGE: the customer was handed to another owner; "
    "`timeline(types: [OWNER_CHANGE])` is the owner history."
)
class OwnerChangeEntry(TimelineEntry):
    owner: str | None = strawberry.field(
        description="The new owner; always set (nullable like RegisteredEntry.owner)."
    )
    previous_owner: str | None
    reason: str | None
    rule: str | None = strawberry.field(
        default=None,
        description="The assignment rule that chose the owner of a new lead; null when a "
        "person assigned it (the entry's actor).",
    )


@strawberry.type(
    description="MERGE: either side of a merge: this customer survived, or was merged."
)
class MergeEntry(TimelineEntry):
    survivor_id: strawberry.ID
    duplicate_id: strawberry.ID


@strawberry.type(description="FORGOTTEN: personal data erased (right to erasure).")
class ForgottenEntry(TimelineEntry):
    reason: str | None = strawberry.field(
        description="Kept after erasure: it never holds contact data."
    )


@strawberry.type(description="REFERRAL: this customer brought in another.")
class ReferralEntry(TimelineEntry):
    referred_customer_id: strawberry.ID


@strawberry.type(
    description="NOTE: a note was written on the customer (`actor` is its author; text personal)."
)
class NoteEntry(TimelineEntry):
    note_id: str
    text: str | None


@strawberry.type(
    description="TASK: a follow-up task was scheduled, rescheduled, fell due (by the "
    "scheduler), was done or cancelled; `status` is what this step left it as."
)
class TaskEntry(TimelineEntry):
    task_id: strawberry.ID
    task_kind: TaskKind | None = strawberry.field(description="Set when scheduled or fell due.")
    status: TaskStatus
    assigned_to: str | None = strawberry.field(
        description="The assignee; set when scheduled, rescheduled or fell due."
    )
    due_at: datetime | None
    title: str | None = strawberry.field(description="Set when scheduled (personal).")
    outcome: str | None = strawberry.field(description="Set when done (personal).")
    reason: str | None = strawberry.field(description="Set when cancelled (personal).")


@strawberry.type(
    description="One custom field's change: values as lists (one item for single-valued "
    "types, the choices for MULTI_CHOICE, empty when unset or masked)."
)
class CustomFieldChange:
    key: str
    type: CustomFieldType
    before: list[str]
    after: list[str]


@strawberry.type(
    description="CUSTOM_FIELDS: custom field values were set or cleared (TEXT values personal)."
)
class CustomFieldsEntry(TimelineEntry):
    changes: list[CustomFieldChange]


ENTRY_TYPES: tuple[type, ...] = (
    RegisteredEntry,
    DetailsChangedEntry,
    TaggedEntry,
    PurchaseEntry,
    TouchEntry,
    NeedEntry,
    ComplaintFiledEntry,
    ComplaintEscalatedEntry,
    ComplaintAssignedEntry,
    ComplaintResolvedEntry,
    StageMoveEntry,
    LifecycleChangeEntry,
    SurveyEntry,
    ConsentEntry,
    OwnerChangeEntry,
    MergeEntry,
    ForgottenEntry,
    ReferralEntry,
    NoteEntry,
    CustomFieldsEntry,
    TaskEntry,
)
"""Every concrete type (the schema lists them, since fields return the interface).

A field name shared by several entry types has one type in all of them (nullable where
any is), so a client selects them side by side in inline fragments without aliases.
"""


class _Reader:
    """Reads one entry's data: personal fields masked by role and noted when returned."""

    def __init__(self, info: Info[Any, None], view: EntryView, personal: bool) -> None:
        self.info, self.view, self.personal = info, view, personal
        self.customer_id: UUID = view.customer_id or view.stream_id

    def get(self, key: str) -> Any:
        return self.view.data.get(key)

    def text(self, key: str) -> str | None:
        value = self.view.data.get(key)
        return None if value is None else str(value)

    def private(self, key: str) -> str | None:
        """Full, partial (``138****8000`` for support) or null, by `gateway.masking`."""
        return returned_personal(self.info, self.customer_id, key, self.text(key), self.personal)

    def id(self, key: str) -> strawberry.ID:
        return strawberry.ID(str(self.view.data.get(key) or ""))


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _lines(data: Data) -> list[OrderLine]:
    return [
        OrderLine(
            sku=str(line.get("sku")),
            quantity=int(line.get("quantity") or 0),
            unit_price=_money(line.get("unit_price")),
            amount=_money(line.get("amount")),
        )
        for line in data.get("lines") or ()
    ]


def _optional(enum: Any, value: Any) -> Any:
    return None if value is None else enum(value)


Build = Callable[[_Reader, dict[str, Any]], Any]


def _registered(r: _Reader, base: dict[str, Any]) -> Any:
    source = r.text("source")
    base["summary"] = "Registered" + (f" (source {source})" if source else "")
    return RegisteredEntry(
        **base,
        name=r.private("name"),
        email=r.private("email"),
        phone=r.private("phone"),
        company=r.text("company"),
        region=r.text("region"),
        source=source,
        owner=r.text("owner"),
    )


def _details(r: _Reader, base: dict[str, Any]) -> Any:
    changed = [str(c) for c in r.get("changed") or ()]
    base["summary"] = "Changed " + ", ".join(changed)

    def shown(key: str) -> str | None:
        return r.private(key) if key in changed else None

    return DetailsChangedEntry(
        **base,
        changed=changed,
        name=shown("name"),
        email=shown("email"),
        phone=shown("phone"),
        address=shown("address"),
        company=r.text("company") if "company" in changed else None,
    )


def _tagged(r: _Reader, base: dict[str, Any]) -> Any:
    tags = [str(t) for t in r.get("tags") or ()]
    untag = r.view.type.startswith("crm.customer.untagged")
    base["summary"] = ("Untagged " if untag else "Tagged ") + ", ".join(tags)
    added, removed = ([], tags) if untag else (tags, [])
    return TaggedEntry(**base, added=added, removed=removed)


def _purchase(r: _Reader, base: dict[str, Any]) -> Any:
    currency = r.text("currency") or "CNY"
    total, total_cny = _money(r.get("total")), _money(r.get("total_cny"))
    base["summary"] = f"Order {r.text('order_id')}: {total} {currency} ({total_cny} CNY)"
    return PurchaseEntry(
        **base,
        order_id=r.text("order_id") or "",
        total=total,
        currency=currency,
        total_cny=total_cny,
        lines=_lines(r.view.data),
    )


def _touch(r: _Reader, base: dict[str, Any]) -> Any:
    channel, direction = Channel(r.get("channel")), Direction(r.get("direction") or "OUTBOUND")
    base["summary"] = f"{direction.value.title()} {channel.value.lower()} touch"
    return TouchEntry(
        **base,
        channel=channel,
        direction=direction,
        summary_text=r.private("summary"),
        outcome=r.private("outcome"),
    )


def _need(r: _Reader, base: dict[str, Any]) -> Any:
    base["summary"] = f"Need {r.text('need_id')} recorded"
    return NeedEntry(
        **base,
        need_id=r.text("need_id") or "",
        description=r.private("description"),
        product_interest=r.private("product_interest"),
    )


def _complaint_id(r: _Reader) -> strawberry.ID:
    """The entry's own stream: a complaint's (or a task's) id."""
    return strawberry.ID(str(r.view.stream_id))


def _filed(r: _Reader, base: dict[str, Any]) -> Any:
    severity = Severity(r.get("severity") or "LOW")
    base["summary"] = f"Complaint filed: {r.text('category')} ({severity.value})"
    return ComplaintFiledEntry(
        **base,
        complaint_id=_complaint_id(r),
        category=r.text("category") or "",
        severity=severity,
        description=r.private("description"),
    )


def _escalated(r: _Reader, base: dict[str, Any]) -> Any:
    automatic = bool(r.get("automatic"))
    base["summary"] = "Complaint escalated" + (" automatically" if automatic else "")
    return ComplaintEscalatedEntry(
        **base, complaint_id=_complaint_id(r), reason=r.private("reason"), automatic=automatic
    )


def _assigned(r: _Reader, base: dict[str, Any]) -> Any:
    base["summary"] = f"Complaint assigned to {r.text('assignee')}"
    return ComplaintAssignedEntry(
        **base,
        complaint_id=_complaint_id(r),
        assignee=r.text("assignee") or "",
        previous_assignee=r.text("previous_assignee"),
    )


def _resolved(r: _Reader, base: dict[str, Any]) -> Any:
    score = r.get("satisfaction")
    base["summary"] = "Complaint resolved" + (f" (satisfaction {score})" if score else "")
    return ComplaintResolvedEntry(
        **base,
        complaint_id=_complaint_id(r),
        resolution=r.private("resolution"),
        satisfaction=None if score is None else int(score),
    )


def _stage(r: _Reader, base: dict[str, Any]) -> Any:
    source, target = PipelineStage(r.get("from_stage")), PipelineStage(r.get("to_stage"))
    base["summary"] = f"Stage {source.value} → {target.value}"
    return StageMoveEntry(**base, from_=source, to=target, reason=r.private("reason"))


def _lifecycle(r: _Reader, base: dict[str, Any]) -> Any:
    stages = (
        _optional(LifecycleStage, r.get("from_stage")),
        _optional(LifecycleStage, r.get("to_stage")),
    )
    tiers = (_optional(Tier, r.get("from_tier")), _optional(Tier, r.get("to_tier")))
    pair = stages if stages[1] is not None else tiers
    what = "Lifecycle stage" if stages[1] is not None else "Tier"
    base["summary"] = (
        f"{what} {pair[0].value if pair[0] else '?'} → {pair[1].value if pair[1] else '?'}"
    )
    return LifecycleChangeEntry(
        **base,
        from_stage=stages[0],
        to_stage=stages[1],
        from_tier=tiers[0],
        to_tier=tiers[1],
        reason=r.text("reason"),
    )


def _survey(r: _Reader, base: dict[str, Any]) -> Any:
    score = int(r.get("score") or 0)
    base["summary"] = f"Survey {r.text('survey_id')} answered: {score}/5"
    return SurveyEntry(
        **base, survey_id=r.text("survey_id") or "", score=score, comment=r.private("comment")
    )


def _consent(r: _Reader, base: dict[str, Any]) -> Any:
    granted, channel = bool(r.get("granted")), _optional(Channel, r.get("channel"))
    where = f" on {channel.value}" if channel else ""
    base["summary"] = f"Consent {'granted' if granted else 'withdrawn'}: {r.text('purpose')}{where}"
    return ConsentEntry(**base, purpose=r.text("purpose") or "", channel=channel, granted=granted)


def _owner(r: _Reader, base: dict[str, Any]) -> Any:
    previous = r.text("previous_owner")
    rule = r.text("rule")
    by_rule = f" (rule {rule})" if rule else ""
    base["summary"] = f"Owner {previous or '(none)'} → {r.text('owner')}{by_rule}"
    return OwnerChangeEntry(
        **base,
        owner=r.text("owner"),
        previous_owner=previous,
        reason=r.private("reason"),
        rule=rule,
    )


def _merge(r: _Reader, base: dict[str, Any]) -> Any:
    me = strawberry.ID(str(r.view.stream_id))
    if r.get("survivor_id") is not None:  # this customer was the duplicate
        survivor, duplicate = r.id("survivor_id"), me
        base["summary"] = f"Merged into {survivor}"
    else:
        survivor, duplicate = me, r.id("duplicate_id")
        base["summary"] = f"Absorbed duplicate {duplicate}"
    return MergeEntry(**base, survivor_id=survivor, duplicate_id=duplicate)


def _forgotten(r: _Reader, base: dict[str, Any]) -> Any:
    base["summary"] = "Personal data erased"
    return ForgottenEntry(**base, reason=r.text("reason"))


def _referral(r: _Reader, base: dict[str, Any]) -> Any:
    base["summary"] = "Referred a new customer"
    return ReferralEntry(**base, referred_customer_id=r.id("referred_customer_id"))


def _note(r: _Reader, base: dict[str, Any]) -> Any:
    base["summary"] = f"Note by {r.view.actor or '(unknown)'}"
    return NoteEntry(**base, note_id=r.text("note_id") or "", text=r.private("text"))


_TASK_STEPS: dict[str, tuple[TaskStatus, str]] = {
    "crm.task.scheduled": (TaskStatus.OPEN, "scheduled"),
    "crm.task.rescheduled": (TaskStatus.OPEN, "rescheduled"),
    "crm.task.fell_due": (TaskStatus.OVERDUE, "fell due"),
    "crm.task.completed": (TaskStatus.DONE, "done"),
    "crm.task.cancelled": (TaskStatus.CANCELLED, "cancelled"),
}


def _task(r: _Reader, base: dict[str, Any]) -> Any:
    status, verb = _TASK_STEPS[split_type(r.view.type)[0]]
    kind, due = _optional(TaskKind, r.get("kind")), r.text("due_at")
    what = kind.value if kind else "Task"
    base["summary"] = f"{what} {verb}" + (
        f", due {due}" if due and status is TaskStatus.OPEN else ""
    )
    return TaskEntry(
        **base,
        task_id=_complaint_id(r),
        task_kind=kind,
        status=status,
        assigned_to=r.text("assignee"),
        due_at=None if due is None else datetime.fromisoformat(due),
        title=r.private("title") if "title" in r.view.data else None,
        outcome=r.private("outcome") if "outcome" in r.view.data else None,
        reason=r.private("reason") if "reason" in r.view.data else None,
    )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _custom_fields(r: _Reader, base: dict[str, Any]) -> Any:
    changed = [str(k) for k in r.get("changed") or ()]
    base["summary"] = "Custom fields changed: " + ", ".join(changed)
    changes = [
        CustomFieldChange(
            key=str(c["key"]),
            type=CustomFieldType(c["type"]),
            before=_as_list(c.get("before")),
            after=_as_list(c.get("after")),
        )
        for c in r.get("changes") or ()
    ]
    for c in r.get("texts") or ():  # personal: masked by role like every free text
        field = f"customFields.{c['key']}"
        before, after = (
            returned_personal(r.info, r.customer_id, field, c.get(side), r.personal)
            for side in ("before", "after")
        )
        changes.append(
            CustomFieldChange(
                key=str(c["key"]),
                type=CustomFieldType(c["type"]),
                before=_as_list(before),
                after=_as_list(after),
            )
        )
    changes.sort(key=lambda c: c.key)
    return CustomFieldsEntry(**base, changes=changes)


K = TimelineKind
BUILDERS: dict[TimelineKind, Build] = {
    K.REGISTERED: _registered,
    K.DETAILS_CHANGED: _details,
    K.TAGGED: _tagged,
    K.PURCHASE: _purchase,
    K.TOUCH: _touch,
    K.NEED: _need,
    K.COMPLAINT_FILED: _filed,
    K.COMPLAINT_ESCALATED: _escalated,
    K.COMPLAINT_ASSIGNED: _assigned,
    K.COMPLAINT_RESOLVED: _resolved,
    K.STAGE_MOVE: _stage,
    K.LIFECYCLE_CHANGE: _lifecycle,
    K.SURVEY: _survey,
    K.CONSENT: _consent,
    K.OWNER_CHANGE: _owner,
    K.MERGE: _merge,
    K.FORGOTTEN: _forgotten,
    K.REFERRAL: _referral,
    K.NOTE: _note,
    K.TASK: _task,
    K.CUSTOM_FIELDS: _custom_fields,
}


def timeline_entry(info: Info[Any, None], view: EntryView, personal: bool) -> TimelineEntry | None:
    """The typed entry of one rm_timeline row; None for a type this gateway does not know."""
    kind = KIND_OF_TYPE.get(split_type(view.type)[0])
    if kind is None:
        return None
    base: dict[str, Any] = {
        "id": strawberry.ID(view.event_id or str(view.position)),
        "kind": kind,
        "at": view.occurred_at,
        "actor": view.actor,
        "position": view.position,
    }
    entry: TimelineEntry = BUILDERS[kind](_Reader(info, view, personal), base)
    return entry
