"""Mutations: each checks the role matrix, builds one command, and hands it to
`commands.service.CommandService` (the only way anything is written).

A refused role gets FORBIDDEN before any command exists, so nothing is recorded. A
refusal of the write side comes back with its code (VALIDATION, RULE, CONFLICT,
NOT_FOUND; a reused idempotency key is CONFLICT on idempotencyKey) and field. Each
mutation field is its own command; what became of each is reported in
``extensions.mutations`` (`gateway.outcomes`), also when a failing field nulls `data`.
Each payload carries the global position of the command's last event; a command that
changed nothing answers with its stream's latest position.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import strawberry
from anyio import to_thread
from strawberry.types import Info

from aggregates.errors import DomainError
from commands.group_commit import GroupCommitter
from commands.messages import Command, CommandContext, CommandResult
from commands.tracing import command_span
from gateway.context import GatewayContext
from gateway.deps import CommandHandler
from gateway.errors import domain_errors_as_graphql, from_domain
from gateway.payloads import complaint_after_write, customer_after_write
from gateway.roles import Permission
from gateway.schema.custom_fields import (
    CustomFieldPayload,
    DefineCustomFieldInput,
    RetireCustomFieldInput,
    SetCustomFieldsInput,
)
from gateway.schema.execution import answers_directly
from gateway.schema.imports import ImportMutation
from gateway.schema.inputs import (
    ChangeContactDetailsInput,
    FileComplaintInput,
    ForgetCustomerInput,
    MergeCustomersInput,
    MoveStageInput,
    RecordContactTouchInput,
    RecordPurchaseInput,
    RegisterCustomerInput,
    ResolveComplaintInput,
    TagCustomerInput,
)
from gateway.schema.more_inputs import (
    AddNoteInput,
    AnswerSurveyInput,
    AssignComplaintInput,
    AssignOwnerInput,
    ChangeConsentInput,
    EscalateComplaintInput,
    RecordNeedInput,
)
from gateway.schema.organisation import (
    AddTeamMemberInput,
    DefineAssignmentRuleInput,
    DefineDepartmentInput,
    DefineTeamInput,
    OrganisationPayload,
    RemoveTeamMemberInput,
)
from gateway.schema.tasks import (
    CancelTaskInput,
    CompleteTaskInput,
    RescheduleTaskInput,
    ScheduleTaskInput,
    TaskPayload,
)
from gateway.schema.types import Complaint, Customer
from gateway.store import last_position_of

GInfo = Info[GatewayContext, None]


@dataclass(frozen=True)
class Written:
    result: CommandResult
    position: int


async def execute(info: GInfo, permission: Permission, build: Callable[[], Command]) -> Written:
    """Check the role, build the command, record it (`_record`).

    The field's outcome is noted as soon as it is known (`gateway.outcomes`): DONE right
    after the commit, before anything else can fail, so the response says the write
    happened even if the rest of this field, or a later field, fails.
    """
    ctx = info.context
    key = str(info.path.key)
    try:
        return await _execute(ctx, key, permission, build)
    except BaseException as error:
        ctx.outcomes.failed(key, error)
        raise


async def _execute(
    ctx: GatewayContext, key: str, permission: Permission, build: Callable[[], Command]
) -> Written:
    ctx.require(permission, f"run {permission.value}")
    command = domain_errors_as_graphql(build)  # bounds checked before any work
    context = await ctx.command_context()
    deps = ctx.deps
    outcomes = ctx.outcomes
    try:
        result = await _record(deps.service, command, context)
    except DomainError as error:
        raise from_domain(error) from error
    outcomes.done(key, result)

    def settle() -> Written:
        if deps.after_write is not None:
            deps.after_write(result)
        position = result.position
        if position is None:
            position = last_position_of(deps.app, result.aggregate_id)
        return Written(result, position)

    if deps.after_write is None and result.position is not None:
        return Written(result, result.position)
    return await to_thread.run_sync(settle)


async def _record(
    service: CommandHandler, command: Command, context: CommandContext
) -> CommandResult:
    """The command's result. A group committer is handed the command from the event loop
    and awaited there (its thread runs the handlers and the save); a plain service runs
    in a worker thread. Shielded: a request cancelled mid-write leaves the write to end
    as it would have, and the committer never meets a cancelled future."""
    if not isinstance(service, GroupCommitter):
        return await to_thread.run_sync(service.handle, command, context)
    with command_span(command.type_name):
        return await asyncio.shield(asyncio.wrap_future(service.submit(command, context)))


@strawberry.type
class CustomerPayload:
    written: strawberry.Private[Written]

    @strawberry.field(description="The customer as queries now show it (read-your-writes).")
    async def customer(self, info: GInfo) -> Customer:
        ctx = info.context
        result = self.written.result
        view = await customer_after_write(ctx, result.customer_id, self.written.position)
        return Customer.of(view, ctx.sees_personal)

    @strawberry.field(description="Global position of the command's last event.")
    @answers_directly
    def position(self) -> int:
        return self.written.position

    @strawberry.field(description="Version of the stream the command wrote.")
    @answers_directly
    def version(self) -> int:
        return self.written.result.version


@strawberry.type
class ComplaintPayload:
    written: strawberry.Private[Written]
    client_mutation_id: str | None = strawberry.field(
        default=None, description="The input's clientMutationId, as sent (Relay)."
    )

    @strawberry.field
    async def complaint(self, info: GInfo) -> Complaint:
        ctx = info.context
        result = self.written.result
        view = await complaint_after_write(
            ctx, result.aggregate_id, result.customer_id, self.written.position
        )
        return Complaint.of(view, ctx.sees_personal)

    @strawberry.field(description="Global position of the command's last event.")
    @answers_directly
    def position(self) -> int:
        return self.written.position

    @strawberry.field(description="Version of the complaint's stream.")
    @answers_directly
    def version(self) -> int:
        return self.written.result.version


P = Permission


def _field_payload(written: Written, key: str) -> CustomFieldPayload:
    return CustomFieldPayload(
        key=key.strip(), position=written.position, version=written.result.version
    )


def _organisation_payload(written: Written) -> OrganisationPayload:
    return OrganisationPayload(position=written.position, version=written.result.version)


@strawberry.type
class Mutation(ImportMutation):
    @strawberry.mutation(description="Admin: define a department.")
    async def define_department(
        self, info: GInfo, input: DefineDepartmentInput
    ) -> OrganisationPayload:
        written = await execute(info, P.MANAGE_ORGANISATION, input.command)
        return _organisation_payload(written)

    @strawberry.mutation(description="Admin: define a team in a department.")
    async def define_team(self, info: GInfo, input: DefineTeamInput) -> OrganisationPayload:
        return _organisation_payload(await execute(info, P.MANAGE_ORGANISATION, input.command))

    @strawberry.mutation(description="Admin: add a person to a team (scoping follows).")
    async def add_team_member(self, info: GInfo, input: AddTeamMemberInput) -> OrganisationPayload:
        return _organisation_payload(await execute(info, P.MANAGE_ORGANISATION, input.command))

    @strawberry.mutation(description="Admin: take a person out of a team.")
    async def remove_team_member(
        self, info: GInfo, input: RemoveTeamMemberInput
    ) -> OrganisationPayload:
        return _organisation_payload(await execute(info, P.MANAGE_ORGANISATION, input.command))

    @strawberry.mutation(
        description="Admin: a lead-assignment rule; a new customer registered without an "
        "owner gets one by the first matching rule with a free rep, recorded as an "
        "OWNER_CHANGE naming the rule."
    )
    async def define_assignment_rule(
        self, info: GInfo, input: DefineAssignmentRuleInput
    ) -> OrganisationPayload:
        return _organisation_payload(await execute(info, P.MANAGE_ORGANISATION, input.command))

    @strawberry.mutation
    async def register_customer(self, info: GInfo, input: RegisterCustomerInput) -> CustomerPayload:
        return CustomerPayload(written=await execute(info, P.REGISTER_CUSTOMER, input.command))

    @strawberry.mutation
    async def change_contact_details(
        self, info: GInfo, input: ChangeContactDetailsInput
    ) -> CustomerPayload:
        written = await execute(info, P.CHANGE_CONTACT_DETAILS, input.command)
        return CustomerPayload(written=written)

    @strawberry.mutation
    async def tag_customer(self, info: GInfo, input: TagCustomerInput) -> CustomerPayload:
        return CustomerPayload(written=await execute(info, P.TAG_CUSTOMER, input.command))

    @strawberry.mutation
    async def record_contact_touch(
        self, info: GInfo, input: RecordContactTouchInput
    ) -> CustomerPayload:
        written = await execute(info, P.RECORD_CONTACT_TOUCH, input.command)
        return CustomerPayload(written=written)

    @strawberry.mutation
    async def record_purchase(self, info: GInfo, input: RecordPurchaseInput) -> CustomerPayload:
        return CustomerPayload(written=await execute(info, P.RECORD_PURCHASE, input.command))

    @strawberry.mutation
    async def move_stage(self, info: GInfo, input: MoveStageInput) -> CustomerPayload:
        return CustomerPayload(written=await execute(info, P.MOVE_STAGE, input.command))

    @strawberry.mutation
    async def file_complaint(self, info: GInfo, input: FileComplaintInput) -> ComplaintPayload:
        return ComplaintPayload(written=await execute(info, P.FILE_COMPLAINT, input.command))

    @strawberry.mutation
    async def resolve_complaint(
        self, info: GInfo, input: ResolveComplaintInput
    ) -> ComplaintPayload:
        written = await execute(info, P.RESOLVE_COMPLAINT, input.command)
        return ComplaintPayload(written=written)

    @strawberry.mutation(
        description="Hand the customer to another owner, with a reason; the hand-over is "
        "an OWNER_CHANGE entry of the timeline (previous owner, new owner, reason, actor); "
        "`timeline(types: [OWNER_CHANGE])` is the owner history. "
        "The same owner again records nothing."
    )
    async def assign_owner(self, info: GInfo, input: AssignOwnerInput) -> CustomerPayload:
        return CustomerPayload(written=await execute(info, P.ASSIGN_OWNER, input.command))

    @strawberry.mutation(description="Record something the customer needs (an open need).")
    async def record_need(self, info: GInfo, input: RecordNeedInput) -> CustomerPayload:
        return CustomerPayload(written=await execute(info, P.RECORD_NEED, input.command))

    @strawberry.mutation(
        description="Write a note on the customer; the caller is its author. The text is "
        "personal (sealed per customer, erased by forgetCustomer); read it in "
        "`customer { notes }` and as a NOTE entry of the timeline."
    )
    async def add_note(self, info: GInfo, input: AddNoteInput) -> CustomerPayload:
        return CustomerPayload(written=await execute(info, P.ADD_NOTE, input.command))

    @strawberry.mutation(
        description="Schedule a follow-up task (call-back, visit, quote follow-up, care "
        "call) for a person, due in the future (RULE on dueAt otherwise). When the due time "
        "passes with the task open, the scheduler records it OVERDUE and `taskReminders` "
        "tells the assignee."
    )
    async def schedule_task(self, info: GInfo, input: ScheduleTaskInput) -> TaskPayload:
        return TaskPayload(written=await execute(info, P.SCHEDULE_TASK, input.command))

    @strawberry.mutation(description="Move an open or overdue task to a new (future) time.")
    async def reschedule_task(self, info: GInfo, input: RescheduleTaskInput) -> TaskPayload:
        return TaskPayload(written=await execute(info, P.RESCHEDULE_TASK, input.command))

    @strawberry.mutation(description="Mark a task done (RULE if it is done or cancelled).")
    async def complete_task(self, info: GInfo, input: CompleteTaskInput) -> TaskPayload:
        return TaskPayload(written=await execute(info, P.COMPLETE_TASK, input.command))

    @strawberry.mutation(description="Cancel a task (RULE if it is done or cancelled).")
    async def cancel_task(self, info: GInfo, input: CancelTaskInput) -> TaskPayload:
        return TaskPayload(written=await execute(info, P.CANCEL_TASK, input.command))

    @strawberry.mutation(
        description="Define a custom field (admin only): key, label, type, choices, "
        "required. Keys are unique for good (RULE on key when taken, even if retired)."
    )
    async def define_custom_field(
        self, info: GInfo, input: DefineCustomFieldInput
    ) -> CustomFieldPayload:
        written = await execute(info, P.DEFINE_CUSTOM_FIELD, input.command)
        return _field_payload(written, input.key)

    @strawberry.mutation(description="Retire a custom field (admin only); its values stay.")
    async def retire_custom_field(
        self, info: GInfo, input: RetireCustomFieldInput
    ) -> CustomFieldPayload:
        written = await execute(info, P.RETIRE_CUSTOM_FIELD, input.command)
        return _field_payload(written, input.key)

    @strawberry.mutation(
        description="Set or clear custom field values of a customer, each checked against "
        "its definition. Shown in `customer { customFields }`, as a CUSTOM_FIELDS timeline "
        "entry, filterable in `customers(filter: {customFields})` (not TEXT)."
    )
    async def set_custom_fields(self, info: GInfo, input: SetCustomFieldsInput) -> CustomerPayload:
        return CustomerPayload(written=await execute(info, P.SET_CUSTOM_FIELDS, input.command))

    @strawberry.mutation(description="Grant or withdraw consent; every decision is recorded.")
    async def change_consent(self, info: GInfo, input: ChangeConsentInput) -> CustomerPayload:
        return CustomerPayload(written=await execute(info, P.CHANGE_CONSENT, input.command))

    @strawberry.mutation(description="Record a satisfaction survey answer (score 1 to 5).")
    async def answer_survey(self, info: GInfo, input: AnswerSurveyInput) -> CustomerPayload:
        return CustomerPayload(written=await execute(info, P.ANSWER_SURVEY, input.command))

    @strawberry.mutation(
        description="Escalate an OPEN complaint (RULE otherwise: escalated or resolved)."
    )
    async def escalate_complaint(
        self, info: GInfo, input: EscalateComplaintInput
    ) -> ComplaintPayload:
        written = await execute(info, P.ESCALATE_COMPLAINT, input.command)
        return ComplaintPayload(written=written)

    @strawberry.mutation(
        description="Assign a complaint to a support agent; a resolved complaint cannot be "
        "assigned (RULE on complaintId). The same agent again records nothing."
    )
    async def assign_complaint(self, info: GInfo, input: AssignComplaintInput) -> ComplaintPayload:
        written = await execute(info, P.ASSIGN_COMPLAINT, input.command)
        return ComplaintPayload(written=written, client_mutation_id=input.client_mutation_id)

    @strawberry.mutation(description="Close the duplicate in favour of the survivor.")
    async def merge_customers(self, info: GInfo, input: MergeCustomersInput) -> CustomerPayload:
        written = await execute(info, P.MERGE_CUSTOMERS, input.command)
        return CustomerPayload(written=written)

    @strawberry.mutation(
        description="Erase personal data (right to erasure); the audit trail keeps the facts, "
        "not the data."
    )
    async def forget_customer(self, info: GInfo, input: ForgetCustomerInput) -> CustomerPayload:
        written = await execute(info, P.FORGET_CUSTOMER, input.command)
        return CustomerPayload(written=written)
