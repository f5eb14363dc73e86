// The complaint queue: open and escalated complaints, longest waiting first, with
// filters; assign one to an agent in place (assignComplaint).
import { html, useState } from "../ui.js";
import { gql } from "../api.js";
import { label, t } from "../i18n.js";
import { dateTime } from "../format.js";
import { can } from "../roles.js";
import { EnumSelect, ErrorNote, Loading, Personal, useQuery } from "../components.js";

const QUEUE = `query Queue($status: ComplaintStatus, $severity: Severity, $assignee: String,
    $unassigned: Boolean!) {
  complaintQueue(status: $status, severity: $severity, assignee: $assignee,
                 unassigned: $unassigned, first: 50) {
    edges { node { id customerId category severity status filedAt assignee slaAgeHours description } }
  }
}`;
const ASSIGN = `mutation Assign($input: AssignComplaintInput!) {
  assignComplaint(input: $input) { complaint { id assignee } }
}`;

function Assign({ complaint, onDone }) {
  const [assignee, setAssignee] = useState(complaint.assignee ?? "");
  const [error, setError] = useState(null);
  const id = `assign-${complaint.id}`;
  const submit = async (event) => {
    event.preventDefault();
    try {
      await gql(ASSIGN, { input: { complaintId: complaint.id, assignee } });
      setError(null);
      onDone();
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<form class="move" onSubmit=${submit}>
    <label for=${id}>${t("assignee")}</label>
    <input id=${id} value=${assignee} onInput=${(e) => setAssignee(e.target.value)} />
    <button type="submit">${t("assign")}</button>
    <${ErrorNote} error=${error} />
  </form>`;
}

export function Complaints({ session }) {
  const [filter, setFilter] = useState({ unassigned: false });
  const { data, error, reload } = useQuery(() => gql(QUEUE, filter), [JSON.stringify(filter)]);
  const set = (change) => setFilter({ ...filter, ...change });
  const mayAssign = can(session, "assignComplaint");
  const masked = !can(session, "seePersonal");
  return html`<section aria-labelledby="complaints-queue-title">
    <h1 id="complaints-queue-title">${t("complaintQueue")}</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <${EnumSelect} id="queue-status" kind="complaintStatus" any text=${t("status")}
        value=${filter.status} onChange=${(v) => set({ status: v })} />
      <${EnumSelect} id="queue-severity" kind="severity" any text=${t("severity")}
        value=${filter.severity} onChange=${(v) => set({ severity: v })} />
      <label for="queue-assignee">${t("assignee")}</label>
      <input id="queue-assignee" value=${filter.assignee ?? ""}
        onChange=${(e) => set({ assignee: e.target.value.trim() || null })} />
      <label for="queue-unassigned">${t("unassigned")}</label>
      <input id="queue-unassigned" type="checkbox" checked=${filter.unassigned}
        onChange=${(e) => set({ unassigned: e.target.checked })} />
    </form>
    <${ErrorNote} error=${error} />
    ${!data ? html`<${Loading} />` : html`<table class="list" id="complaint-queue">
      <thead><tr><th scope="col">${t("slaAge")}</th><th scope="col">${t("severity")}</th>
        <th scope="col">${t("status")}</th><th scope="col">${t("category")}</th>
        <th scope="col">${t("description")}</th><th scope="col">${t("filedAt")}</th>
        <th scope="col">${t("assignee")}</th></tr></thead>
      <tbody>
        ${data.complaintQueue.edges.length === 0 && html`<tr><td colspan="7">${t("nothing")}</td></tr>`}
        ${data.complaintQueue.edges.map(({ node: c }) => html`<tr data-complaint=${c.id}>
          <td class="number">${c.slaAgeHours.toFixed(1)} h</td>
          <td>${label("severity", c.severity)}</td><td>${label("complaintStatus", c.status)}</td>
          <td><a href="#/customers/${c.customerId}">${c.category}</a></td>
          <td><${Personal} value=${c.description} customer=${{ masked }} /></td>
          <td>${dateTime(c.filedAt)}</td>
          <td>${mayAssign ? html`<${Assign} complaint=${c} onDone=${reload} />` : c.assignee ?? "—"}</td>
        </tr>`)}
      </tbody>
    </table>`}
  </section>`;
}
