// Task reminders: the `taskReminders` subscription of the signed-in user (over the same
// graphql-transport-ws client as the profile's live feed), shown as a notice under the
// menu whatever the screen; screens that list tasks listen too, to reload.
import { html, useEffect, useState } from "./ui.js";
import { subscribeKeepingOn } from "./api.js";
import { label, t } from "./i18n.js";
import { dateTime } from "./format.js";
import { can } from "./roles.js";
import { Personal } from "./components.js";

const REMINDERS = `subscription Reminders {
  taskReminders { taskId customerId kind dueAt at position title }
}`;
const listeners = new Set();
// Subscribing starts the gateway's broker consumer, which competes with the first
// screen's queries on the gateway (target: interactive within 1 s); a reminder is
// about a task due minutes or hours ahead, so listening from a moment later is enough.
const START_AFTER_MS = 3000;

export function onReminder(notify) {
  listeners.add(notify);
  return () => listeners.delete(notify);
}

export function Reminders({ session }) {
  const [shown, setShown] = useState([]);
  useEffect(() => {
    let stop = () => {};
    const timer = setTimeout(() => {
      stop = subscribeKeepingOn(REMINDERS, {}, ({ taskReminders: reminder }) => {
        setShown((list) => [reminder, ...list.filter((r) => r.taskId !== reminder.taskId)].slice(0, 5));
        listeners.forEach((notify) => notify(reminder));
      });
    }, START_AFTER_MS);
    return () => {
      clearTimeout(timer);
      stop();
    };
  }, [session.token]);
  const dismiss = (taskId) => setShown((list) => list.filter((r) => r.taskId !== taskId));
  const masked = !can(session, "seePersonal");
  // The live region exists before anything arrives, so screen readers announce arrivals.
  return html`<div id="reminders" class="reminders" role="status" aria-live="polite">
    ${shown.map((r) => html`<p class="reminder" data-task=${r.taskId}>
      <strong>${t("reminder")}</strong>
      <span>${label("taskKind", r.kind)}</span>
      <span><${Personal} value=${r.title} customer=${{ masked }} /></span>
      <span>${t("dueAt")} ${dateTime(r.dueAt)}</span>
      <a href="#/customers/${r.customerId}">${t("openCustomer")}</a>
      <a href="#/myTasks">${t("myTasks")}</a>
      <button type="button" aria-label=${t("dismiss")} onClick=${() => dismiss(r.taskId)}>×</button>
    </p>`)}
  </div>`;
}
