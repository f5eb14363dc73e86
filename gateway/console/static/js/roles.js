// What each role may do, mirroring gateway/roles.py, used only to hide what the API
// would refuse anyway (a FORBIDDEN error). Keep in step with that table.
const PERSONAL = ["seePersonal", "timeline", "complaintQueue"];
const TOUCHES_AND_COMPLAINTS = [
  "recordContactTouch",
  "fileComplaint",
  "escalateComplaint",
  "assignComplaint",
  "resolveComplaint",
];

// Notes and follow-up tasks (gateway/roles.py `_FOLLOW_UPS`): `myTasks` stands for
// reading one's own tasks and their reminders.
const FOLLOW_UPS = [
  "myTasks",
  "addNote",
  "scheduleTask",
  "rescheduleTask",
  "completeTask",
  "cancelTask",
];

const SALES = [
  ...PERSONAL,
  ...TOUCHES_AND_COMPLAINTS,
  ...FOLLOW_UPS,
  "registerCustomer",
  "changeContactDetails",
  "tagCustomer",
  "recordPurchase",
  "moveStage",
  "assignOwner",
  "recordNeed",
  "changeConsent",
  "answerSurvey",
  "setCustomFields",
];

// Whose customers a role reaches (team, department) is the API's scoping, not a menu.
const MATRIX = {
  admin: ["*"],
  sales: SALES,
  manager: [...SALES, "organisation"],
  support: [...PERSONAL, ...TOUCHES_AND_COMPLAINTS, ...FOLLOW_UPS],
  analyst: ["analytics"],
  compliance: [...PERSONAL, "analytics", "audit", "mergeCustomers", "forgetCustomer", "organisation"],
};

export function can(session, permission) {
  const granted = MATRIX[session?.role] || [];
  return granted.includes("*") || granted.includes(permission);
}
