"""The role matrix of RULES.md, in one table: who may read what and run which mutation.

Every check in the gateway asks `allows(role, permission)`; nothing else decides access.
To change who may do what, change `MATRIX` (and the test that pins it).

| role       | may                                                                     |
| ---------- | ----------------------------------------------------------------------- |
| admin      | everything                                                              |
| sales      | read customers with personal data, timelines, the complaint queue,      |
|            | duplicate candidates; all mutations but merge and forget; import CSV    |
| support    | read customers with personal data, timelines, the complaint queue;      |
|            | touches, notes, tasks, complaints (file, escalate, assign, resolve)     |
| analyst    | read lists, funnel, distributions, analytics, duplicate candidates;     |
|            | personal fields are null                                                |
| compliance | read everything (duplicate candidates, the organisation too);           |
|            | auditTrail, customerAsOf, subjectExport; forget and merge               |
| manager    | what sales may, over the whole department (scoping: `gateway.scope`);   |
|            | read the organisation                                                   |

Sales and support see and change only their own and their teams' customers, a manager
those of the whole department, admin, compliance and analyst everyone's (`gateway.scope`).
The organisation (departments, teams, members, assignment rules) is the admin's to change;
admin, manager and compliance may read it (`organisation`).

docs/roles.md shows the same matrix per GraphQL field.

A role without a permission gets a FORBIDDEN error (and nothing is recorded); a role
without `SEE_PERSONAL` gets null for personal fields and redacted audit data instead.
"""

from __future__ import annotations

import enum
from typing import Final


class Role(enum.StrEnum):
    ADMIN = "admin"
    SALES = "sales"
    SUPPORT = "support"
    ANALYST = "analyst"
    COMPLIANCE = "compliance"
    MANAGER = "manager"


class Permission(enum.StrEnum):
    # -- reading
    READ_CUSTOMERS = "read customers"
    SEE_PERSONAL = "see personal data"
    READ_ANALYTICS = "read funnel and distributions"
    READ_AUDIT = "read the audit trail and past states"
    SUBSCRIBE = "receive live events"
    READ_TIMELINE = "read a customer's timeline"
    READ_COMPLAINT_QUEUE = "read the complaint queue"
    READ_OWN_TASKS = "read one's own tasks and their reminders"
    FIND_DUPLICATES = "find duplicate candidates"
    READ_ORGANISATION = "read departments, teams, members and assignment rules"
    # -- mutations, one each
    REGISTER_CUSTOMER = "registerCustomer"
    CHANGE_CONTACT_DETAILS = "changeContactDetails"
    TAG_CUSTOMER = "tagCustomer"
    RECORD_CONTACT_TOUCH = "recordContactTouch"
    RECORD_PURCHASE = "recordPurchase"
    MOVE_STAGE = "moveStage"
    ASSIGN_OWNER = "assignOwner"
    RECORD_NEED = "recordNeed"
    ADD_NOTE = "addNote"
    SCHEDULE_TASK = "scheduleTask"
    RESCHEDULE_TASK = "rescheduleTask"
    COMPLETE_TASK = "completeTask"
    CANCEL_TASK = "cancelTask"
    CHANGE_CONSENT = "changeConsent"
    ANSWER_SURVEY = "answerSurvey"
    FILE_COMPLAINT = "fileComplaint"
    ESCALATE_COMPLAINT = "escalateComplaint"
    ASSIGN_COMPLAINT = "assignComplaint"
    RESOLVE_COMPLAINT = "resolveComplaint"
    MERGE_CUSTOMERS = "mergeCustomers"
    FORGET_CUSTOMER = "forgetCustomer"
    IMPORT_CUSTOMERS = "importCustomers"
    SET_CUSTOM_FIELDS = "setCustomFields"
    DEFINE_CUSTOM_FIELD = "defineCustomField"  # admin only, like every set-up change
    RETIRE_CUSTOM_FIELD = "retireCustomField"
    MANAGE_ORGANISATION = "define departments, teams, members and assignment rules"


P = Permission

_READ_WITH_PERSONAL: Final = frozenset(
    {P.READ_CUSTOMERS, P.SEE_PERSONAL, P.SUBSCRIBE, P.READ_TIMELINE, P.READ_COMPLAINT_QUEUE}
)
_FOLLOW_UPS: Final = frozenset(
    {
        P.READ_OWN_TASKS,
        P.ADD_NOTE,
        P.SCHEDULE_TASK,
        P.RESCHEDULE_TASK,
        P.COMPLETE_TASK,
        P.CANCEL_TASK,
    }
)
_TOUCHES_AND_COMPLAINTS: Final = frozenset(
    {
        P.RECORD_CONTACT_TOUCH,
        P.FILE_COMPLAINT,
        P.ESCALATE_COMPLAINT,
        P.ASSIGN_COMPLAINT,
        P.RESOLVE_COMPLAINT,
    }
)

_SALES: Final = (
    _READ_WITH_PERSONAL
    | _TOUCHES_AND_COMPLAINTS
    | _FOLLOW_UPS
    | {
        P.REGISTER_CUSTOMER,
        P.CHANGE_CONTACT_DETAILS,
        P.TAG_CUSTOMER,
        P.RECORD_PURCHASE,
        P.MOVE_STAGE,
        P.ASSIGN_OWNER,
        P.RECORD_NEED,
        P.CHANGE_CONSENT,
        P.ANSWER_SURVEY,
        P.FIND_DUPLICATES,
        P.IMPORT_CUSTOMERS,
        P.SET_CUSTOM_FIELDS,
    }
)

MATRIX: Final[dict[Role, frozenset[Permission]]] = {
    Role.ADMIN: frozenset(Permission),
    Role.SALES: _SALES,
    Role.SUPPORT: _READ_WITH_PERSONAL | _TOUCHES_AND_COMPLAINTS | _FOLLOW_UPS,
    Role.ANALYST: frozenset({P.READ_CUSTOMERS, P.READ_ANALYTICS, P.SUBSCRIBE, P.FIND_DUPLICATES}),
    Role.COMPLIANCE: _READ_WITH_PERSONAL
    | {
        P.READ_ANALYTICS,
        P.READ_AUDIT,
        P.MERGE_CUSTOMERS,
        P.FORGET_CUSTOMER,
        P.FIND_DUPLICATES,
        P.READ_ORGANISATION,
    },
    # A manager leads teams: they see how the organisation is laid out, not change it.
    Role.MANAGER: _SALES | {P.READ_ORGANISATION},
}
"""Role -> everything it may do. A permission not listed for a role is refused."""

ROLES: Final = tuple(role.value for role in Role)


def allows(role: Role, permission: Permission) -> bool:
    return permission in MATRIX[role]


def sees_personal(role: Role) -> bool:
    """Whether personal fields (name, email, phone, address, free texts) are shown."""
    return allows(role, Permission.SEE_PERSONAL)
