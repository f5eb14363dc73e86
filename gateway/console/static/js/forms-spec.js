// The command forms: each names its mutation, the permission it needs, its inputs
// (named as in the GraphQL input, so `extensions.field` points at one) and how the
// values become the mutation's input. `type: "datetime-local"` values are wall times in
// the deployment's zone. Specs with `customerId` also serve the profile, which fixes it.
import { zoneInputToIso } from "./format.js";

const list = (text) => (text ? text.split(",").map((s) => s.trim()).filter(Boolean) : null);
const CUSTOMER = `customer { id version }`;
const POSITION = `position`;
const TASK = `task { id customerId kind status assignee dueAt title }`;
const number = (text) => (text === undefined ? undefined : Number(text));

export const FORMS = [
  {
    name: "register",
    permission: "registerCustomer",
    mutation: `mutation($input: RegisterCustomerInput!) { registerCustomer(input: $input) { ${CUSTOMER} } }`,
    fields: [
      { name: "name", required: true },
      { name: "email", type: "email" },
      { name: "phone", type: "tel" },
      { name: "company" },
      { name: "industry" },
      { name: "region" },
      { name: "source" },
      { name: "owner" },
    ],
    input: (v) => v,
  },
  {
    name: "touch",
    permission: "recordContactTouch",
    mutation: `mutation($input: RecordContactTouchInput!) { recordContactTouch(input: $input) { ${CUSTOMER} } }`,
    fields: [
      { name: "customerId", required: true },
      { name: "channel", kind: "channel", required: true },
      { name: "direction", kind: "touchDirection" },
      { name: "summary" },
      { name: "outcome" },
    ],
    input: (v) => v,
  },
  {
    name: "purchase",
    permission: "recordPurchase",
    mutation: `mutation($input: RecordPurchaseInput!) { recordPurchase(input: $input) { ${CUSTOMER} } }`,
    fields: [
      { name: "customerId", required: true },
      { name: "orderId", required: true },
      { name: "lines[0].sku", text: "sku", required: true },
      { name: "lines[0].quantity", text: "quantity", type: "number", required: true },
      { name: "lines[0].unitPrice", text: "unitPrice", required: true },
      { name: "currency" },
    ],
    input: (v) => ({
      customerId: v.customerId,
      orderId: v.orderId,
      currency: v.currency || "CNY",
      lines: [{ sku: v["lines[0].sku"], quantity: Number(v["lines[0].quantity"]),
        unitPrice: v["lines[0].unitPrice"] }],
    }),
  },
  {
    name: "complaint",
    permission: "fileComplaint",
    mutation: `mutation($input: FileComplaintInput!) { fileComplaint(input: $input) { complaint { id } } }`,
    fields: [
      { name: "customerId", required: true },
      { name: "category", required: true },
      { name: "severity", kind: "severity", required: true },
      { name: "description", multiline: true, required: true },
    ],
    input: (v) => v,
  },
  {
    name: "resolve",
    permission: "resolveComplaint",
    mutation: `mutation($input: ResolveComplaintInput!) { resolveComplaint(input: $input) { complaint { id } } }`,
    fields: [
      { name: "complaintId", required: true },
      { name: "resolution", multiline: true, required: true },
      { name: "satisfaction", type: "number" },
    ],
    input: (v) => ({ ...v, satisfaction: v.satisfaction ? Number(v.satisfaction) : null }),
  },
  {
    name: "merge",
    permission: "mergeCustomers",
    mutation: `mutation($input: MergeCustomersInput!) { mergeCustomers(input: $input) { ${CUSTOMER} } }`,
    fields: [
      { name: "survivorId", required: true },
      { name: "duplicateId", required: true },
    ],
    input: (v) => v,
  },
  {
    name: "tagForm",
    permission: "tagCustomer",
    mutation: `mutation($input: TagCustomerInput!) { tagCustomer(input: $input) { ${CUSTOMER} } }`,
    fields: [
      { name: "customerId", required: true },
      { name: "add", text: "addTags" },
      { name: "remove", text: "removeTags" },
    ],
    input: (v) => ({ customerId: v.customerId, add: list(v.add), remove: list(v.remove) }),
  },
  {
    name: "escalate",
    permission: "escalateComplaint",
    mutation: `mutation($input: EscalateComplaintInput!) { escalateComplaint(input: $input) { complaint { id status } } }`,
    fields: [
      { name: "complaintId", required: true },
      { name: "reason", multiline: true },
    ],
    input: (v) => v,
  },
  {
    name: "assignOwner",
    permission: "assignOwner",
    mutation: `mutation($input: AssignOwnerInput!) { assignOwner(input: $input) { ${CUSTOMER} ${POSITION} } }`,
    fields: [
      { name: "customerId", required: true },
      { name: "owner", text: "newOwner", required: true },
      { name: "reason" },
    ],
    input: (v) => v,
  },
  {
    name: "recordNeed",
    permission: "recordNeed",
    mutation: `mutation($input: RecordNeedInput!) { recordNeed(input: $input) { ${CUSTOMER} ${POSITION} } }`,
    fields: [
      { name: "customerId", required: true },
      { name: "description", text: "needDescription", multiline: true, required: true },
      { name: "productInterest" },
    ],
    input: (v) => v,
  },
  {
    name: "consent",
    permission: "changeConsent",
    mutation: `mutation($input: ChangeConsentInput!) { changeConsent(input: $input) { ${CUSTOMER} ${POSITION} } }`,
    fields: [
      { name: "customerId", required: true },
      { name: "purpose", required: true },
      { name: "granted", kind: "granted", required: true },
      { name: "channel", kind: "channel", text: "consentChannel" },
    ],
    // An unanswered "granted" stays absent, so the API names what is missing.
    input: (v) => ({ ...v, granted: v.granted === undefined ? undefined : v.granted === "GRANTED" }),
  },
  {
    name: "survey",
    permission: "answerSurvey",
    mutation: `mutation($input: AnswerSurveyInput!) { answerSurvey(input: $input) { ${CUSTOMER} ${POSITION} } }`,
    fields: [
      { name: "customerId", required: true },
      { name: "surveyId", required: true },
      { name: "score", type: "number", required: true },
      { name: "comment", multiline: true },
    ],
    input: (v) => ({ ...v, score: number(v.score) }),
  },
  {
    name: "addNote",
    permission: "addNote",
    mutation: `mutation($input: AddNoteInput!) { addNote(input: $input) { ${CUSTOMER} ${POSITION} } }`,
    fields: [
      { name: "customerId", required: true },
      { name: "text", text: "noteText", multiline: true, required: true },
    ],
    input: (v) => v,
  },
  {
    name: "scheduleTask",
    permission: "scheduleTask",
    mutation: `mutation($input: ScheduleTaskInput!) { scheduleTask(input: $input) { ${TASK} ${POSITION} } }`,
    fields: [
      { name: "customerId", required: true },
      { name: "kind", kind: "taskKind", text: "taskKind", required: true },
      { name: "title", text: "taskTitle", required: true },
      { name: "assignee", required: true },
      { name: "dueAt", type: "datetime-local", required: true },
    ],
    input: (v) => ({ ...v, dueAt: v.dueAt ? zoneInputToIso(v.dueAt) : undefined }),
  },
];

// The organisation's forms (admin only), on the Teams screen rather than under "Record":
// they set the console up, they record nothing about a customer.
const ORGANISATION = `position version`;

export const ORGANISATION_FORMS = [
  {
    name: "defineDepartment",
    permission: "defineDepartment",
    mutation: `mutation($input: DefineDepartmentInput!) { defineDepartment(input: $input) { ${ORGANISATION} } }`,
    fields: [{ name: "department", required: true }],
    input: (v) => v,
  },
  {
    name: "defineTeam",
    permission: "defineTeam",
    mutation: `mutation($input: DefineTeamInput!) { defineTeam(input: $input) { ${ORGANISATION} } }`,
    fields: [
      { name: "team", required: true },
      { name: "department", required: true },
    ],
    input: (v) => v,
  },
  {
    name: "addTeamMember",
    permission: "addTeamMember",
    mutation: `mutation($input: AddTeamMemberInput!) { addTeamMember(input: $input) { ${ORGANISATION} } }`,
    fields: [
      { name: "team", required: true },
      { name: "member", required: true },
    ],
    input: (v) => v,
  },
  {
    name: "removeTeamMember",
    permission: "removeTeamMember",
    mutation: `mutation($input: RemoveTeamMemberInput!) { removeTeamMember(input: $input) { ${ORGANISATION} } }`,
    fields: [
      { name: "team", required: true },
      { name: "member", required: true },
    ],
    input: (v) => v,
  },
  {
    name: "defineAssignmentRule",
    permission: "defineAssignmentRule",
    mutation: `mutation($input: DefineAssignmentRuleInput!) { defineAssignmentRule(input: $input) { ${ORGANISATION} } }`,
    fields: [
      { name: "rule", text: "ruleName", required: true },
      { name: "team", required: true },
      { name: "region" },
      { name: "source" },
      { name: "capacity", type: "number" },
    ],
    input: (v) => ({ ...v, capacity: number(v.capacity) }),
  },
];
