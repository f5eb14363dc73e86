// Follow-up tasks: the "My tasks" screen (`myTasks` with status and due-before filters,
// overdue ones marked, complete / reschedule / cancel in place, reloaded when a reminder
// arrives) and the profile's Tasks section. The API lists only the caller's own tasks,
// so the profile shows the caller's tasks on that customer.
import { html, useEffect, useState } from "../ui.js";
import { gql } from "../api.js";
import { label, t } from "../i18n.js";
import { dateTime, isoToZoneInput, zoneInputToIso } from "../format.js";
import { can } from "../roles.js";
import { EnumSelect, ErrorNote, Loading, Personal, useQuery } from "../components.js";
import { FORMS } from "../forms-spec.js";
import { onReminder } from "../reminders.js";
import { CommandForm } from "./forms.js";

const PAGE = 50;
const MY_TASKS = `query MyTasks($status: TaskStatus, $dueBefore: DateTime, $first: Int, $after: String) {
  myTasks(status: $status, dueBefore: $dueBefore, first: $first, after: $after) {
    edges { node { id customerId kind status assignee dueAt scheduledBy fellDueAt closedAt
      title outcome reason } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const STEPS = {
  complete: `mutation($input: CompleteTaskInput!) { completeTask(input: $input) { task { id status } } }`,
  reschedule: `mutation($input: RescheduleTaskInput!) { rescheduleTask(input: $input) { task { id dueAt } } }`,
  cancel: `mutation($input: CancelTaskInput!) { cancelTask(input: $input) { task { id status } } }`,
};
const SCHEDULE = FORMS.find((spec) => spec.name === "scheduleTask");

const isOpen = (task) => task.status === "OPEN" || task.status === "OVERDUE";
// Overdue: the scheduler recorded it, or its due time passed before the scheduler's tick.
const isOverdue = (task) =>
  task.status === "OVERDUE" || (task.status === "OPEN" && Date.parse(task.dueAt) < Date.now());

function TaskActions({ session, task, onDone }) {
  const [outcome, setOutcome] = useState("");
  const [dueAt, setDueAt] = useState(isoToZoneInput(task.dueAt));
  const [reason, setReason] = useState("");
  const [error, setError] = useState(null);
  if (!isOpen(task)) return null;
  const id = (what) => `task-${task.id}-${what}`;
  const run = (step, input) => async (event) => {
    event.preventDefault();
    try {
      await gql(STEPS[step], { input: { taskId: task.id, ...input } });
      setError(null);
      onDone();
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<div class="task-actions">
    ${can(session, "completeTask") && html`<form class="move" onSubmit=${run("complete", { outcome: outcome || null })}>
      <label for=${id("outcome")}>${t("outcome")}</label>
      <input id=${id("outcome")} value=${outcome} onInput=${(e) => setOutcome(e.target.value)} />
      <button type="submit">${t("completeTask")}</button>
    </form>`}
    ${can(session, "rescheduleTask") && html`<form class="move" onSubmit=${run("reschedule", { dueAt: zoneInputToIso(dueAt) })}>
      <label for=${id("due")}>${t("newDueAt")}</label>
      <input id=${id("due")} type="datetime-local" step="1" value=${dueAt}
        onInput=${(e) => setDueAt(e.target.value)} />
      <button type="submit">${t("rescheduleTask")}</button>
    </form>`}
    ${can(session, "cancelTask") && html`<form class="move" onSubmit=${run("cancel", { reason: reason || null })}>
      <label for=${id("reason")}>${t("cancelReason")}</label>
      <input id=${id("reason")} value=${reason} onInput=${(e) => setReason(e.target.value)} />
      <button type="submit">${t("cancelTask")}</button>
    </form>`}
    <${ErrorNote} error=${error} />
  </div>`;
}

function TaskTable({ session, tasks, onChanged, withCustomer, id }) {
  const masked = !can(session, "seePersonal");
  return html`<table class="list tasks" id=${id}>
    <thead><tr><th scope="col">${t("dueAt")}</th><th scope="col">${t("taskKind")}</th>
      <th scope="col">${t("taskTitle")}</th><th scope="col">${t("status")}</th>
      ${withCustomer && html`<th scope="col">${t("customer")}</th>`}
      <th scope="col">${t("actions")}</th></tr></thead>
    <tbody>
      ${tasks.length === 0 && html`<tr><td colspan="6">${t("nothing")}</td></tr>`}
      ${tasks.map((task) => html`<tr data-task=${task.id} data-status=${task.status}
          class=${isOverdue(task) ? "overdue" : undefined}>
        <td><time datetime=${task.dueAt}>${dateTime(task.dueAt)}</time></td>
        <td>${label("taskKind", task.kind)}</td>
        <td><${Personal} value=${task.title} customer=${{ masked }} />
          ${task.outcome && html`<br /><small>${t("outcome")}: ${task.outcome}</small>`}
          ${task.reason && html`<br /><small>${t("reason")}: ${task.reason}</small>`}</td>
        <td class="task-status">${label("taskStatus", task.status)}
          ${isOverdue(task) && task.status === "OPEN" && html` <span class="badge">${t("pastDue")}</span>`}</td>
        ${withCustomer && html`<td><a href="#/customers/${task.customerId}">${t("openCustomer")}</a></td>`}
        <td><${TaskActions} key=${`${task.id}-${task.status}-${task.dueAt}`} session=${session}
          task=${task} onDone=${onChanged} /></td>
      </tr>`)}
    </tbody>
  </table>`;
}

export function MyTasks({ session }) {
  const [filter, setFilter] = useState({ status: null, dueBefore: "" });
  const [cursors, setCursors] = useState([null]); // the `after` of every page walked so far
  const after = cursors[cursors.length - 1];
  const variables = { status: filter.status, dueBefore: zoneInputToIso(filter.dueBefore),
    first: PAGE, after };
  const { data, error, reload } = useQuery(() => gql(MY_TASKS, variables),
    [JSON.stringify(variables)]);
  useEffect(() => onReminder(reload), []);
  const set = (change) => {
    setFilter({ ...filter, ...change });
    setCursors([null]);
  };
  const page = data?.myTasks;
  return html`<section aria-labelledby="my-tasks-title">
    <h1 id="my-tasks-title">${t("myTasks")}</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <${EnumSelect} id="tasks-status" kind="taskStatus" any text=${t("status")}
        value=${filter.status} onChange=${(v) => set({ status: v })} />
      <label for="tasks-due-before">${t("dueBefore")}</label>
      <input id="tasks-due-before" type="datetime-local" value=${filter.dueBefore}
        onChange=${(e) => set({ dueBefore: e.target.value })} />
    </form>
    <${ErrorNote} error=${error} />
    ${!page ? html`<${Loading} />` : html`
      <${TaskTable} id="my-tasks" session=${session} withCustomer onChanged=${reload}
        tasks=${page.edges.map((e) => e.node)} />
      <p class="pager">
        <button type="button" disabled=${cursors.length === 1}
          onClick=${() => setCursors(cursors.slice(0, -1))}>${t("previous")}</button>
        <button type="button" disabled=${!page.pageInfo.hasNextPage}
          onClick=${() => setCursors([...cursors, page.pageInfo.endCursor])}>${t("next")}</button>
      </p>`}
  </section>`;
}

// The profile's section: the caller's tasks on this customer (`myTasks` has no customer
// filter: one page of the API's largest size, filtered here), and scheduling one.
export function CustomerTasks({ session, customerId, stamp, onSaved }) {
  const mayList = can(session, "myTasks");
  const { data, error, reload } = useQuery(
    () => (mayList ? gql(MY_TASKS, { first: 100 }) : Promise.resolve(null)), [customerId, stamp]);
  useEffect(() => onReminder(reload), []);
  const tasks = (data?.myTasks.edges ?? []).map((e) => e.node)
    .filter((task) => task.customerId === customerId);
  return html`<section aria-labelledby="tasks-title" class="card wide">
    <h2 id="tasks-title">${t("tasks")}</h2>
    ${mayList && html`<p><small>${t("tasksHint")}</small></p>
      <${ErrorNote} error=${error} />
      ${data ? html`<${TaskTable} id="customer-tasks" session=${session} tasks=${tasks}
        onChanged=${reload} />` : html`<${Loading} />`}`}
    ${can(session, "scheduleTask") && html`<${CommandForm} spec=${SCHEDULE}
      fixed=${{ customerId }} initial=${{ assignee: session.subject }}
      onSaved=${(saved) => { reload(); onSaved(saved.position); }} />`}
  </section>`;
}
