"""Commands: one frozen dataclass per intention, named in the imperative.

A command is what a caller asks for, not what happened (that is an event). Every
command may carry:

- `expected_version`: the version of the target stream the caller last saw; a stale
  one is refused with CONFLICT on ``expectedVersion`` instead of silently overwriting.
  For commands that create a stream (RegisterCustomer, FileComplaint) only None or 0
  makes sense. For MergeCustomers it is the survivor's version (the result's stream).
- `idempotency_key`: a retry with the same key (by the same actor) records nothing and
  returns the first result, also after a restart; the key with another command is
  refused with CONFLICT on ``idempotencyKey`` (`commands.idempotency`).
- `occurred_at`: business time (tz-aware); when omitted the service stamps "now". The
  clock is read in the service, never in aggregates, so aggregates stay replayable.

All fields are keyword-only: a command is read by name at every call site. `UNSET`
(the aggregate's own marker) means "leave unchanged", distinct from None ("clear").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

from aggregates.customer import UNSET, Unset


@dataclass(frozen=True)
class CommandContext:
    """Who asks and in which conversation; recorded with every event the command causes."""

    actor: str
    correlation_id: UUID = field(default_factory=uuid4)
    causation_id: UUID | None = None
    scope: frozenset[str] | None = None
    """The owners whose customers the actor may change (team or department scoping);
    None: any customer. A customer outside it is answered NOT_FOUND, as if absent."""


@dataclass(frozen=True)
class CommandResult:
    """Where the command landed: the stream it wrote, its version, its last position.

    `position` is the global position of the command's last event (None when the command
    changed nothing); a query can wait for the read models to reach it.
    """

    aggregate_id: UUID
    customer_id: UUID
    version: int
    position: int | None


@dataclass(frozen=True, kw_only=True)
class Command:
    """Fields every command carries (see module docstring)."""

    expected_version: int | None = None
    idempotency_key: str | None = None
    occurred_at: datetime | None = None

    @property
    def type_name(self) -> str:
        """The command's type, as recorded in ``crm_event_meta`` and ``crm_idempotency``."""
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class RegisterCustomer(Command):
    """A new customer at LEAD. `customer_id` may be chosen by the caller (imports)."""

    name: str
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    industry: str | None = None
    region: str | None = None
    source: str | None = None
    referred_by: UUID | None = None
    owner: str | None = None
    customer_id: UUID | None = None
    # Custom field values recorded with the registration (as `SetCustomFields` takes them).
    custom_fields: tuple[tuple[str, str | tuple[str, ...] | None], ...] = ()


@dataclass(frozen=True, kw_only=True)
class ChangeContactDetails(Command):
    """Change only the given fields; None clears an optional one."""

    customer_id: UUID
    name: str | Unset = UNSET
    email: str | Unset | None = UNSET
    phone: str | Unset | None = UNSET
    address: str | Unset | None = UNSET
    company: str | Unset | None = UNSET


@dataclass(frozen=True, kw_only=True)
class TagCustomer(Command):
    """Add and/or remove tags in one step (removals apply after additions)."""

    customer_id: UUID
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RecordContactTouch(Command):
    customer_id: UUID
    channel: str
    direction: str = "OUTBOUND"
    summary: str | None = None
    outcome: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordNeed(Command):
    """`need_id` is generated when not given."""

    customer_id: UUID
    description: str
    product_interest: str | None = None
    need_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class AddNote(Command):
    """A note on a customer, authored by the context's actor; `note_id` generated if absent."""

    customer_id: UUID
    text: str
    note_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class PurchaseLineInput:
    """One order line as sent; `unit_price` as Decimal or decimal text, never float."""

    sku: str
    quantity: int
    unit_price: Decimal | str


@dataclass(frozen=True, kw_only=True)
class RecordPurchase(Command):
    """`order_id` is generated when not given; amounts are in `currency`."""

    customer_id: UUID
    lines: tuple[PurchaseLineInput, ...]
    currency: str = "CNY"
    order_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class MoveStage(Command):
    customer_id: UUID
    to: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class AssignOwner(Command):
    """Hand the customer to `owner`; `reason` says why (kept in the timeline)."""

    customer_id: UUID
    owner: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChangeConsent(Command):
    customer_id: UUID
    purpose: str
    granted: bool
    channel: str | None = None


@dataclass(frozen=True, kw_only=True)
class AnswerSatisfactionSurvey(Command):
    customer_id: UUID
    survey_id: str
    score: int
    comment: str | None = None


@dataclass(frozen=True, kw_only=True)
class FileComplaint(Command):
    """`complaint_id` is generated when not given."""

    customer_id: UUID
    category: str
    severity: str
    description: str
    complaint_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class EscalateComplaint(Command):
    complaint_id: UUID
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class AssignComplaint(Command):
    """Hand a complaint that is not resolved to a support agent."""

    complaint_id: UUID
    assignee: str


@dataclass(frozen=True, kw_only=True)
class ResolveComplaint(Command):
    complaint_id: UUID
    resolution: str
    satisfaction: int | None = None


@dataclass(frozen=True, kw_only=True)
class MergeCustomers(Command):
    """Close `duplicate_id` in favour of `survivor_id`; both saved in one transaction."""

    survivor_id: UUID
    duplicate_id: UUID


@dataclass(frozen=True, kw_only=True)
class ForgetCustomer(Command):
    """Right to erasure: destroys the customer's key in the same transaction."""

    customer_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class AdvanceLifecycle(Command):
    """Record what time alone changed in a customer's lifecycle stage and tier.

    Issued by the scheduler (actor ``system:scheduler``) with the values the read side
    stored (`from_*`) and the ones the rules give at `occurred_at` (`to_*`); equal
    values record nothing.
    """

    customer_id: UUID
    from_stage: str
    to_stage: str
    stage_reason: str
    from_tier: str
    to_tier: str
    tier_reason: str


@dataclass(frozen=True, kw_only=True)
class ScheduleTask(Command):
    """A follow-up task (`kind`: CALL_BACK, VISIT, QUOTE_FOLLOW_UP, CARE_CALL) for
    `assignee` about a customer, due at `due_at` (after `occurred_at`)."""

    customer_id: UUID
    kind: str
    title: str
    assignee: str
    due_at: datetime
    task_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class RescheduleTask(Command):
    task_id: UUID
    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class CompleteTask(Command):
    task_id: UUID
    outcome: str | None = None


@dataclass(frozen=True, kw_only=True)
class CancelTask(Command):
    task_id: UUID
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class MarkTaskDue(Command):
    """Issued by the scheduler (actor ``system:scheduler``) for an open task whose due
    time has passed; records `TaskFellDue`, or nothing if it is no longer due."""

    task_id: UUID


@dataclass(frozen=True, kw_only=True)
class DefineCustomField(Command):
    """An admin's new custom field; `key` is snake case and unique for good.
    `expected_version` is the catalog's (all definitions share one stream)."""

    key: str
    label: str
    field_type: str
    choices: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True, kw_only=True)
class RetireCustomField(Command):
    """The field takes no new values; its existing values stay."""

    key: str


@dataclass(frozen=True, kw_only=True)
class SetCustomFields(Command):
    """Set custom field values of a customer: key -> raw value (text, decimal text, ISO
    date, a choice, or a tuple of choices); None clears the field."""

    customer_id: UUID
    values: tuple[tuple[str, str | tuple[str, ...] | None], ...]


@dataclass(frozen=True, kw_only=True)
class DefineDepartment(Command):
    department: str


@dataclass(frozen=True, kw_only=True)
class DefineTeam(Command):
    """A team in a department (again: moves it to that department)."""

    team: str
    department: str


@dataclass(frozen=True, kw_only=True)
class AddTeamMember(Command):
    team: str
    member: str


@dataclass(frozen=True, kw_only=True)
class RemoveTeamMember(Command):
    team: str
    member: str


@dataclass(frozen=True, kw_only=True)
class DefineAssignmentRule(Command):
    """Route new leads without an owner round-robin within `team` (see
    `aggregates.organisation`)."""

    rule: str
    team: str
    region: str | None = None
    source: str | None = None
    capacity: int | None = None


ORGANISATION_COMMANDS: tuple[type[Command], ...] = (
    DefineDepartment,
    DefineTeam,
    AddTeamMember,
    RemoveTeamMember,
    DefineAssignmentRule,
)

ALL_COMMANDS: tuple[type[Command], ...] = (
    RegisterCustomer,
    ChangeContactDetails,
    TagCustomer,
    RecordContactTouch,
    RecordNeed,
    AddNote,
    RecordPurchase,
    MoveStage,
    AssignOwner,
    ChangeConsent,
    AnswerSatisfactionSurvey,
    FileComplaint,
    EscalateComplaint,
    AssignComplaint,
    ResolveComplaint,
    MergeCustomers,
    ForgetCustomer,
    AdvanceLifecycle,
    ScheduleTask,
    RescheduleTask,
    CompleteTask,
    CancelTask,
    MarkTaskDue,
    DefineCustomField,
    RetireCustomField,
    SetCustomFields,
    *ORGANISATION_COMMANDS,
)
