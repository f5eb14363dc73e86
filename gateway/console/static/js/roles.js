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

const SALES = [
  ...PERSONAL,
  ...TOUCHES_AND_COMPLAINTS,
  "registerCustomer",
  "changeContactDetails",
  "tagCustomer",
  "recordPurchase",
  "moveStage",
];

// Whose customers a role reaches (team, department) is the API's scoping, not a menu.
const MATRIX = {
  admin: ["*"],
  sales: SALES,
  manager: SALES,
  support: [...PERSONAL, ...TOUCHES_AND_COMPLAINTS],
  analyst: ["analytics"],
  compliance: [...PERSONAL, "analytics", "audit", "mergeCustomers", "forgetCustomer"],
};

export function can(session, permission) {
  const granted = MATRIX[session?.role] || [];
  return granted.includes("*") || granted.includes(permission);
}
