// The command forms: each names its mutation, the permission it needs, its inputs
// (named as in the GraphQL input, so `extensions.field` points at one) and how the
// values become the mutation's input.
const list = (text) => (text ? text.split(",").map((s) => s.trim()).filter(Boolean) : null);
const CUSTOMER = `customer { id version }`;

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
];
