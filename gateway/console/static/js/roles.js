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

const MATRIX = {
  admin: ["*"],
  sales: [
    ...PERSONAL,
    ...TOUCHES_AND_COMPLAINTS,
    "registerCustomer",
    "changeContactDetails",
    "tagCustomer",
    "recordPurchase",
    "moveStage",
  ],
  support: [...PERSONAL, ...TOUCHES_AND_COMPLAINTS],
  analyst: ["analytics"],
  compliance: [...PERSONAL, "analytics", "audit", "mergeCustomers", "forgetCustomer"],
};

export function can(session, permission) {
  const granted = MATRIX[session?.role] || [];
  return granted.includes("*") || granted.includes(permission);
}
