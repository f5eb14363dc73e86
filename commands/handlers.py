"""One handler per command: load the aggregates, check the expected version, call the rule.

Handlers do no I/O of their own beyond loading through the unit of work, and never read
the clock (`at` comes in): the service saves, retries and records idempotency, so the
same handlers serve a single command and a batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.complaint import Complaint
from aggregates.custom_fields import CATALOG_ID, CustomFieldCatalog, FieldDefinition
from aggregates.customer import Customer, merged_into
from aggregates.errors import NotFound, RuleViolated, ValidationFailed
from aggregates.organisation import Organisation
from aggregates.purchase import PurchaseLine
from aggregates.task import Task
from commands.crypto import random_uuid
from commands.messages import (
    AddNote,
    AddTeamMember,
    AdvanceLifecycle,
    AnswerSatisfactionSurvey,
    AssignComplaint,
    AssignOwner,
    CancelTask,
    ChangeConsent,
    ChangeContactDetails,
    Command,
    CompleteTask,
    DefineAssignmentRule,
    DefineCustomField,
    DefineDepartment,
    DefineTeam,
    EscalateComplaint,
    FileComplaint,
    ForgetCustomer,
    MarkTaskDue,
    MergeCustomers,
    MoveStage,
    RecordContactTouch,
    RecordNeed,
    RecordPurchase,
    RegisterCustomer,
    RemoveTeamMember,
    RescheduleTask,
    ResolveComplaint,
    RetireCustomField,
    ScheduleTask,
    SetCustomFields,
    TagCustomer,
)
from commands.unit_of_work import UnitOfWork
from events.organisation import ORGANISATION_ID


@dataclass(frozen=True)
class Outcome:
    """The stream a command is about (its result's `aggregate_id`) and whose customer."""

    aggregate: Aggregate
    customer_id: UUID


Handler = Callable[[UnitOfWork, Any, datetime], Outcome]


def _open_customer(uow: UnitOfWork, customer_id: UUID, expected: int | None) -> Customer:
    customer = uow.customer(customer_id)
    uow.check_version(customer, expected)
    return customer


def register_customer(uow: UnitOfWork, cmd: RegisterCustomer, at: datetime) -> Outcome:
    uow.check_new(cmd.expected_version)
    customer = Customer.register(
        customer_id=cmd.customer_id or random_uuid(),
        name=cmd.name,
        email=cmd.email,
        phone=cmd.phone,
        company=cmd.company,
        industry=cmd.industry,
        region=cmd.region,
        source=cmd.source,
        referred_by=cmd.referred_by,
        owner=cmd.owner,
        at=at,
        policy=uow.policy,
    )
    if customer.owner is not None:
        # The owner as recorded (trimmed): " ann " is ann, inside the scope like her.
        _check_within_scope(uow, customer.owner, "owner")
    uow.add(customer, field="customerId")
    if cmd.custom_fields:
        _set_custom_fields(uow, customer, cmd.custom_fields, at)
    if cmd.owner is None:
        _route_lead(uow, customer, at)
    if customer.owner is None and uow.scope is not None and uow.actor is not None:
        # A scoped rep's new lead that no rule routed is theirs: unowned, it would leave
        # their scope the moment it was recorded.
        customer.assign_owner(owner=uow.actor, at=at)
    if cmd.referred_by is not None:
        # The referrer's side of the referral is recorded atomically with the registration.
        referrer = uow.customer(cmd.referred_by, field="referredBy")
        try:
            referrer.record_referral(referred_customer_id=customer.id, at=at)
        except RuleViolated as error:
            raise RuleViolated(error.message, field="referredBy") from error
    return Outcome(customer, customer.id)


def _route_lead(uow: UnitOfWork, customer: Customer, at: datetime) -> None:
    """A lead without an owner gets one from the first assignment rule with a free rep,
    in this transaction (`aggregates.organisation`); none matching leaves it unowned."""
    organisation = uow.existing_organisation()
    if organisation is None or not organisation.rules:
        return
    routing = organisation.route(
        customer_id=customer.id, region=customer.region, source=customer.source, at=at
    )
    if routing is not None:
        customer.assign_owner(owner=routing.owner, rule=routing.rule, at=at)


def change_contact_details(uow: UnitOfWork, cmd: ChangeContactDetails, at: datetime) -> Outcome:
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    customer.change_contact_details(
        at=at,
        name=cmd.name,
        email=cmd.email,
        phone=cmd.phone,
        address=cmd.address,
        company=cmd.company,
        policy=uow.policy,
    )
    return Outcome(customer, customer.id)


def tag_customer(uow: UnitOfWork, cmd: TagCustomer, at: datetime) -> Outcome:
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    customer.require_open()
    if cmd.add:
        customer.tag(list(cmd.add), at=at, policy=uow.policy, field="add")
    if cmd.remove:
        customer.untag(list(cmd.remove), at=at, field="remove")
    return Outcome(customer, customer.id)


def record_contact_touch(uow: UnitOfWork, cmd: RecordContactTouch, at: datetime) -> Outcome:
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    customer.record_touch(
        channel=cmd.channel,
        direction=cmd.direction,
        summary=cmd.summary,
        outcome=cmd.outcome,
        at=at,
    )
    return Outcome(customer, customer.id)


def record_need(uow: UnitOfWork, cmd: RecordNeed, at: datetime) -> Outcome:
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    customer.record_need(
        need_id=cmd.need_id or random_uuid().hex,
        description=cmd.description,
        product_interest=cmd.product_interest,
        at=at,
    )
    return Outcome(customer, customer.id)


def add_note(uow: UnitOfWork, cmd: AddNote, at: datetime) -> Outcome:
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    customer.add_note(note_id=cmd.note_id or random_uuid().hex, text=cmd.text, at=at)
    return Outcome(customer, customer.id)


def record_purchase(uow: UnitOfWork, cmd: RecordPurchase, at: datetime) -> Outcome:
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    customer.record_purchase(
        # Only an absent id is generated: an empty one is a client bug (VALIDATION).
        order_id=random_uuid().hex if cmd.order_id is None else cmd.order_id,
        lines=[PurchaseLine(ln.sku, ln.quantity, ln.unit_price) for ln in cmd.lines],
        currency=cmd.currency,
        policy=uow.policy,
        at=at,
    )
    return Outcome(customer, customer.id)


def move_stage(uow: UnitOfWork, cmd: MoveStage, at: datetime) -> Outcome:
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    customer.move_stage(to=cmd.to, reason=cmd.reason, at=at, policy=uow.policy)
    return Outcome(customer, customer.id)


def assign_owner(uow: UnitOfWork, cmd: AssignOwner, at: datetime) -> Outcome:
    """A hand-over; within a scope, only to an owner inside it. A lead a rule routed
    frees its rep's place under the rule's capacity."""
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    before = customer.owner
    customer.assign_owner(owner=cmd.owner, reason=cmd.reason, at=at)
    # Judged as recorded (trimmed, validated); a refusal here records nothing.
    _check_within_scope(uow, customer.owner, "owner")
    if customer.owner != before:
        organisation = uow.existing_organisation()
        if organisation is not None and customer.id in organisation.routed:
            organisation.release(customer_id=customer.id, at=at)
    return Outcome(customer, customer.id)


def change_consent(uow: UnitOfWork, cmd: ChangeConsent, at: datetime) -> Outcome:
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    customer.change_consent(purpose=cmd.purpose, channel=cmd.channel, granted=cmd.granted, at=at)
    return Outcome(customer, customer.id)


def answer_survey(uow: UnitOfWork, cmd: AnswerSatisfactionSurvey, at: datetime) -> Outcome:
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    customer.answer_survey(survey_id=cmd.survey_id, score=cmd.score, comment=cmd.comment, at=at)
    return Outcome(customer, customer.id)


def file_complaint(uow: UnitOfWork, cmd: FileComplaint, at: datetime) -> Outcome:
    uow.check_new(cmd.expected_version)
    customer = uow.customer(cmd.customer_id)
    complaint = Complaint.file(
        complaint_id=cmd.complaint_id or random_uuid(),
        customer=customer,
        category=cmd.category,
        severity=cmd.severity,
        description=cmd.description,
        at=at,
    )
    uow.add(complaint, field="complaintId")
    return Outcome(complaint, customer.id)


def _check_reach(uow: UnitOfWork, customer_id: UUID, field: str, missing: str) -> None:
    """Within a scope, a complaint or task is reachable only through its customer."""
    if uow.scope is None:
        return
    try:
        uow.customer(customer_id, field=field)
    except NotFound:
        raise NotFound(missing, field=field) from None


def _open_complaint(uow: UnitOfWork, complaint_id: UUID, expected: int | None) -> Complaint:
    """A complaint whose customer is not forgotten (the store re-checks at commit)."""
    complaint = uow.complaint(complaint_id)
    _check_reach(uow, complaint.customer_id, "complaintId", f"no complaint {complaint_id}")
    uow.check_version(complaint, expected)
    if uow.app.keys.is_forgotten(complaint.customer_id):
        raise RuleViolated(
            f"customer {complaint.customer_id} is forgotten; no new commands", field="complaintId"
        )
    return complaint


def escalate_complaint(uow: UnitOfWork, cmd: EscalateComplaint, at: datetime) -> Outcome:
    complaint = _open_complaint(uow, cmd.complaint_id, cmd.expected_version)
    complaint.escalate(reason=cmd.reason, at=at)
    return Outcome(complaint, complaint.customer_id)


def assign_complaint(uow: UnitOfWork, cmd: AssignComplaint, at: datetime) -> Outcome:
    complaint = _open_complaint(uow, cmd.complaint_id, cmd.expected_version)
    complaint.assign(assignee=cmd.assignee, at=at)
    _check_within_scope(uow, complaint.assignee, "assignee")
    return Outcome(complaint, complaint.customer_id)


def resolve_complaint(uow: UnitOfWork, cmd: ResolveComplaint, at: datetime) -> Outcome:
    complaint = _open_complaint(uow, cmd.complaint_id, cmd.expected_version)
    complaint.resolve(resolution=cmd.resolution, satisfaction=cmd.satisfaction, at=at)
    return Outcome(complaint, complaint.customer_id)


def merge_customers(uow: UnitOfWork, cmd: MergeCustomers, at: datetime) -> Outcome:
    survivor = uow.customer(cmd.survivor_id, field="survivorId")
    duplicate = uow.customer(cmd.duplicate_id, field="duplicateId")
    uow.check_version(survivor, cmd.expected_version)
    duplicate.merge_into(survivor, at=at)
    return Outcome(survivor, survivor.id)


def forget_customer(uow: UnitOfWork, cmd: ForgetCustomer, at: datetime) -> Outcome:
    """Erase the customer and every customer merged into it (a merge said they are one
    person), in one transaction: each stream's own key is destroyed."""
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    customer.forget(reason=cmd.reason, at=at)
    for duplicate in merged_into(customer, uow.customer):
        if not duplicate.forgotten:
            duplicate.forget(reason=cmd.reason, at=at)
    return Outcome(customer, customer.id)


def advance_lifecycle(uow: UnitOfWork, cmd: AdvanceLifecycle, at: datetime) -> Outcome:
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    customer.advance_lifecycle(
        from_stage=cmd.from_stage,
        to_stage=cmd.to_stage,
        stage_reason=cmd.stage_reason,
        from_tier=cmd.from_tier,
        to_tier=cmd.to_tier,
        tier_reason=cmd.tier_reason,
        at=at,
    )
    return Outcome(customer, customer.id)


def schedule_task(uow: UnitOfWork, cmd: ScheduleTask, at: datetime) -> Outcome:
    uow.check_new(cmd.expected_version)
    customer = uow.customer(cmd.customer_id)
    task = Task.schedule(
        task_id=cmd.task_id or random_uuid(),
        customer=customer,
        kind=cmd.kind,
        title=cmd.title,
        assignee=cmd.assignee,
        due_at=cmd.due_at,
        at=at,
    )
    _check_within_scope(uow, task.assignee, "assignee")
    uow.add(task, field="taskId")
    return Outcome(task, customer.id)


def _check_within_scope(uow: UnitOfWork, person: str | None, field: str) -> None:
    """A scoped caller names only people inside its scope, as owner or assignee: anyone
    else would never see the customer, its tasks or its complaints (docs/roles.md)."""
    if not uow.in_scope(person):
        raise RuleViolated(f"{field} {person!r} is outside your team or department", field=field)


def _open_task(uow: UnitOfWork, task_id: UUID, expected: int | None) -> Task:
    """A task whose customer is not forgotten (the store re-checks at commit)."""
    task = uow.task(task_id)
    _check_reach(uow, task.customer_id, "taskId", f"no task {task_id}")
    uow.check_version(task, expected)
    if uow.app.keys.is_forgotten(task.customer_id):
        raise RuleViolated(
            f"customer {task.customer_id} is forgotten; no new commands", field="taskId"
        )
    return task


def reschedule_task(uow: UnitOfWork, cmd: RescheduleTask, at: datetime) -> Outcome:
    task = _open_task(uow, cmd.task_id, cmd.expected_version)
    task.reschedule(due_at=cmd.due_at, at=at)
    return Outcome(task, task.customer_id)


def complete_task(uow: UnitOfWork, cmd: CompleteTask, at: datetime) -> Outcome:
    task = _open_task(uow, cmd.task_id, cmd.expected_version)
    task.complete(outcome=cmd.outcome, at=at)
    return Outcome(task, task.customer_id)


def cancel_task(uow: UnitOfWork, cmd: CancelTask, at: datetime) -> Outcome:
    task = _open_task(uow, cmd.task_id, cmd.expected_version)
    task.cancel(reason=cmd.reason, at=at)
    return Outcome(task, task.customer_id)


def mark_task_due(uow: UnitOfWork, cmd: MarkTaskDue, at: datetime) -> Outcome:
    task = _open_task(uow, cmd.task_id, cmd.expected_version)
    task.fall_due(at=at)
    return Outcome(task, task.customer_id)


def define_custom_field(uow: UnitOfWork, cmd: DefineCustomField, at: datetime) -> Outcome:
    catalog = uow.custom_field_catalog()
    if catalog is None:
        uow.check_new(cmd.expected_version)
        catalog = CustomFieldCatalog.start(at=at)
        uow.add(catalog, field="key")
    else:
        uow.check_version(catalog, cmd.expected_version)
    catalog.define(
        key=cmd.key,
        label=cmd.label,
        field_type=cmd.field_type,
        choices=cmd.choices,
        required=cmd.required,
        at=at,
    )
    # Not about a customer: the catalog is its own subject (`events.ConfigurationFact`).
    return Outcome(catalog, catalog.id)


def retire_custom_field(uow: UnitOfWork, cmd: RetireCustomField, at: datetime) -> Outcome:
    catalog = uow.custom_field_catalog()
    if catalog is None:
        raise NotFound(f"no custom field {cmd.key!r}", field="key")
    uow.check_version(catalog, cmd.expected_version)
    catalog.retire(key=cmd.key, at=at)
    return Outcome(catalog, CATALOG_ID)


def _set_custom_fields(
    uow: UnitOfWork, customer: Customer, values: Sequence[tuple[str, Any]], at: datetime
) -> None:
    """Judge the values against the catalog's definitions (the customer's rule)."""
    catalog = uow.custom_field_catalog()
    definitions: dict[str, FieldDefinition] = catalog.fields if catalog is not None else {}
    keys = [key for key, _ in values]
    for key in keys:
        if keys.count(key) > 1:
            raise ValidationFailed(f"{key!r} is given twice", field=f"customFields.{key}")
    customer.set_custom_fields(values=dict(values), definitions=definitions, at=at)


def set_custom_fields(uow: UnitOfWork, cmd: SetCustomFields, at: datetime) -> Outcome:
    customer = _open_customer(uow, cmd.customer_id, cmd.expected_version)
    _set_custom_fields(uow, customer, cmd.values, at)
    return Outcome(customer, customer.id)


def _organisation_outcome(uow: UnitOfWork, at: datetime) -> Outcome:
    return Outcome(uow.organisation(at), ORGANISATION_ID)


def _open_organisation(uow: UnitOfWork, cmd: Command, at: datetime) -> Organisation:
    organisation = uow.organisation(at)
    uow.check_version(organisation, cmd.expected_version)
    return organisation


def define_department(uow: UnitOfWork, cmd: DefineDepartment, at: datetime) -> Outcome:
    _open_organisation(uow, cmd, at).define_department(department=cmd.department, at=at)
    return _organisation_outcome(uow, at)


def define_team(uow: UnitOfWork, cmd: DefineTeam, at: datetime) -> Outcome:
    _open_organisation(uow, cmd, at).define_team(team=cmd.team, department=cmd.department, at=at)
    return _organisation_outcome(uow, at)


def add_team_member(uow: UnitOfWork, cmd: AddTeamMember, at: datetime) -> Outcome:
    _open_organisation(uow, cmd, at).add_member(team=cmd.team, member=cmd.member, at=at)
    return _organisation_outcome(uow, at)


def remove_team_member(uow: UnitOfWork, cmd: RemoveTeamMember, at: datetime) -> Outcome:
    _open_organisation(uow, cmd, at).remove_member(team=cmd.team, member=cmd.member, at=at)
    return _organisation_outcome(uow, at)


def define_assignment_rule(uow: UnitOfWork, cmd: DefineAssignmentRule, at: datetime) -> Outcome:
    _open_organisation(uow, cmd, at).define_rule(
        rule=cmd.rule,
        team=cmd.team,
        region=cmd.region,
        source=cmd.source,
        capacity=cmd.capacity,
        at=at,
    )
    return _organisation_outcome(uow, at)


HANDLERS: dict[type[Command], Handler] = {
    RegisterCustomer: register_customer,
    ChangeContactDetails: change_contact_details,
    TagCustomer: tag_customer,
    RecordContactTouch: record_contact_touch,
    RecordNeed: record_need,
    AddNote: add_note,
    RecordPurchase: record_purchase,
    MoveStage: move_stage,
    AssignOwner: assign_owner,
    ChangeConsent: change_consent,
    AnswerSatisfactionSurvey: answer_survey,
    FileComplaint: file_complaint,
    EscalateComplaint: escalate_complaint,
    AssignComplaint: assign_complaint,
    ResolveComplaint: resolve_complaint,
    MergeCustomers: merge_customers,
    ForgetCustomer: forget_customer,
    AdvanceLifecycle: advance_lifecycle,
    ScheduleTask: schedule_task,
    RescheduleTask: reschedule_task,
    CompleteTask: complete_task,
    CancelTask: cancel_task,
    MarkTaskDue: mark_task_due,
    DefineCustomField: define_custom_field,
    RetireCustomField: retire_custom_field,
    SetCustomFields: set_custom_fields,
    DefineDepartment: define_department,
    DefineTeam: define_team,
    AddTeamMember: add_team_member,
    RemoveTeamMember: remove_team_member,
    DefineAssignmentRule: define_assignment_rule,
}
