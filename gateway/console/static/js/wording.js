// The API's facts in the user's language: a timeline entry from its typed fields, an
// event type and a state field by their labels, hours with their unit. The API's own
// English words (an entry's `summary`, a raw type or field name) are the fallback for
// what has no label here, so a new kind still shows something.
import { label, labelOr, language, t } from "./i18n.js";
import { dateTime, money } from "./format.js";

const list = (values) => values.join(language() === "zh" ? "、" : ", ");

// An event type ("crm.customer.contact_touch_recorded.v3") by its label, keyed by the
// name without the `crm.` prefix and the `.vN` version; the raw type when unknown.
export function eventLabel(type) {
  if (!type) return "—";
  const key = type.replace(/^crm\./, "").replace(/\.v\d+$/, "");
  return labelOr("event", key, type);
}

// An aggregate's state field as the audit trail names it ("touch_counts").
export function fieldLabel(name) {
  return labelOr("stateField", name, name);
}

export function hours(value) {
  return t("hours", { count: Number(value).toFixed(1) });
}

function purchaseAmount(e) {
  if (e.currency === "CNY") return money(e.totalCny);
  return `${e.total} ${e.currency} (${money(e.totalCny)})`;
}

function task(e) {
  const what = e.taskKind ? label("taskKind", e.taskKind) : t("tlTask");
  if (e.status === "OPEN") {
    return t(e.taskKind ? "tlTaskScheduled" : "tlTaskRescheduled", { what, due: dateTime(e.dueAt) });
  }
  if (e.status === "OVERDUE") return t("tlTaskFellDue", { what, due: dateTime(e.dueAt) });
  if (e.status === "DONE") return t("tlTaskDone", { what });
  if (e.status === "CANCELLED") return t("tlTaskCancelled", { what });
  return null;
}

// One line per entry type (its GraphQL type name), from non-personal fields only, as the
// API's `summary` is. `customerId`: whose timeline it is (a merge reads both ways).
const TEMPLATES = {
  RegisteredEntry: (e) => (e.source ? t("tlRegisteredFrom", { source: e.source }) : t("tlRegistered")),
  DetailsChangedEntry: (e) => t("tlDetailsChanged", { fields: list(e.changed.map(fieldLabel)) }),
  TaggedEntry: (e) => (e.added.length > 0
    ? t("tlTagged", { tags: list(e.added) }) : t("tlUntagged", { tags: list(e.removed) })),
  PurchaseEntry: (e) => t("tlPurchase", { order: e.orderId, amount: purchaseAmount(e) }),
  TouchEntry: (e) => t("tlTouch", {
    direction: label("touchDirection", e.direction), channel: label("channel", e.channel) }),
  NeedEntry: (e) => t("tlNeed", { need: e.needId }),
  ComplaintFiledEntry: (e) => t("tlComplaintFiled", {
    category: e.category, severity: label("severity", e.severity) }),
  ComplaintEscalatedEntry: (e) => t(e.automatic ? "tlComplaintEscalatedAuto" : "tlComplaintEscalated"),
  ComplaintAssignedEntry: (e) => t("tlComplaintAssigned", { assignee: e.assignee }),
  ComplaintResolvedEntry: (e) => (e.satisfaction
    ? t("tlComplaintResolvedScore", { score: e.satisfaction }) : t("tlComplaintResolved")),
  StageMoveEntry: (e) => t("tlStageMove", { from: label("stage", e.from), to: label("stage", e.to) }),
  LifecycleChangeEntry: (e) => (e.toStage
    ? t("tlLifecycleChange", { from: label("lifecycle", e.fromStage), to: label("lifecycle", e.toStage) })
    : t("tlTierChange", { from: label("tier", e.fromTier), to: label("tier", e.toTier) })),
  SurveyEntry: (e) => t("tlSurvey", { survey: e.surveyId, score: e.score }),
  ConsentEntry: (e) => t(e.granted ? "tlConsentGranted" : "tlConsentWithdrawn", {
    purpose: e.purpose, channel: e.channel ? label("channel", e.channel) : t("tlEveryChannel") }),
  OwnerChangeEntry: (e) => t(e.rule ? "tlOwnerChangeRule" : "tlOwnerChange", {
    from: e.previousOwner ?? t("tlNobody"), to: e.owner ?? "—", rule: e.rule }),
  MergeEntry: (e, customerId) => (e.survivorId === customerId
    ? t("tlMergeAbsorbed", { id: e.duplicateId }) : t("tlMergedInto", { id: e.survivorId })),
  ForgottenEntry: () => t("tlForgotten"),
  ReferralEntry: () => t("tlReferral"),
  NoteEntry: (e) => t("tlNote", { actor: e.actor ?? "—" }),
  TaskEntry: task,
  CustomFieldsEntry: (e) => t("tlCustomFields", { fields: list(e.changes.map((c) => c.key)) }),
};

export function entryText(entry, customerId) {
  return TEMPLATES[entry.__typename]?.(entry, customerId) ?? entry.summary;
}

export function kindLabel(kind) {
  return label("timelineKind", kind);
}
