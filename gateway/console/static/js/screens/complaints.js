// The complaint queue: open and escalated complaints, longest waiting first, with
// filters and pages; assign one to an agent, resolve or escalate it in place.
import { html, useState } from "../ui.js";
import { gql } from "../api.js";
import { label, t } from "../i18n.js";
import { dateTime } from "../format.js";
import { hours } from "../wording.js";
import { can } from "../roles.js";
import { EnumSelect, ErrorNote, Loading, Personal, useQuery } from "../components.js";
import { FORMS } from "../forms-spec.js";
import { CommandForm } from "./forms.js";

const PAGE = 50;
const ACTIONS = ["resolve", "escalate"].map((name) => FORMS.find((f) => f.name === name));

const QUEUE = `query Queue($status: ComplaintStatus, $severity: Severity, $assignee: String,
    $unassigned: Boolean!, $first: Int, $after: String) {
  complaintQueue(status: $status, severity: $severity, assignee: $assignee,
                 unassigned: $unassigned, first: $first, after: $after) {
    edges { node { id customerId category severity status filedAt assignee slaAgeHours description } }
    pageInfo { hasNextPage endCursor }
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

// Resolve or escalate one complaint, its id given (no screen shows ids to type); ids
// carry the complaint's, as every row has the same forms.
function Act({ complaint, session, onDone }) {
  const allowed = ACTIONS.filter((spec) => spec && can(session, spec.permission));
  if (allowed.length === 0) return null;
  return html`<details class="act">
    <summary>${allowed.map((spec) => t(spec.name)).join(" / ")}</summary>
    ${allowed.map((spec) => html`<${CommandForm} key=${spec.name} spec=${spec}
      prefix="${spec.name}-${complaint.id}" fixed=${{ complaintId: complaint.id }} onSaved=${onDone} />`)}
  </details>`;
}

export function Complaints({ session }) {
  const [filter, setFilter] = useState({ unassigned: false });
  const [cursors, setCursors] = useState([null]); // where each page seen so far began
  const after = cursors[cursors.length - 1];
  const { data, error, reload } = useQuery(
    () => gql(QUEUE, { ...filter, first: PAGE, after }), [JSON.stringify(filter), after]);
  const set = (change) => {
    setFilter({ ...filter, ...change });
    setCursors([null]);
  };
  const mayAssign = can(session, "assignComplaint");
  const masked = !can(session, "seePersonal");
  const queue = data?.complaintQueue;
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
        <th scope="col">${t("assignee")}</th><th scope="col">${t("actions")}</th></tr></thead>
      <tbody>
        ${queue.edges.length === 0 && html`<tr><td colspan="8">${t("nothing")}</td></tr>`}
        ${queue.edges.map(({ node: c }) => html`<tr key=${c.id} data-complaint=${c.id}>
          <td class="number">${hours(c.slaAgeHours)}</td>
          <td>${label("severity", c.severity)}</td><td>${label("complaintStatus", c.status)}</td>
          <td><a href="#/customers/${c.customerId}">${c.category}</a></td>
          <td><${Personal} value=${c.description} customer=${{ masked }} /></td>
          <td>${dateTime(c.filedAt)}</td>
          <td>${mayAssign ? html`<${Assign} key=${c.id} complaint=${c} onDone=${reload} />`
            : c.assignee ?? "—"}</td>
          <td><${Act} complaint=${c} session=${session} onDone=${reload} /></td>
        </tr>`)}
      </tbody>
    </table>
    <nav class="pager" aria-label="pages">
      <button type="button" id="queue-previous" disabled=${cursors.length === 1}
        onClick=${() => setCursors(cursors.slice(0, -1))}>${t("previous")}</button>
      <button type="button" id="queue-next" disabled=${!queue.pageInfo.hasNextPage}
        onClick=${() => setCursors([...cursors, queue.pageInfo.endCursor])}>${t("next")}</button>
    </nav>`}
  </section>`;
}
