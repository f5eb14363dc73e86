// The profile's notes (Customer.notes, newest first), text masked as the API answers it,
// and the form to add one (addNote, with the customer fixed). `stamp`: a position the
// profile's read has reached; read with it as `atLeast`, so a note saved is in the list.
import { html } from "../ui.js";
import { gqlWithFallback } from "../api.js";
import { t } from "../i18n.js";
import { dateTime } from "../format.js";
import { can } from "../roles.js";
import { ErrorNote, Loading, Personal, useQuery } from "../components.js";
import { FORMS } from "../forms-spec.js";
import { CommandForm } from "./forms.js";

const NOTES = `query Notes($id: ID!, $atLeast: Int) {
  customer(id: $id, atLeast: $atLeast) { id notes(first: 50) { edges { node { noteId author at text position } } } }
}`;
const WITHOUT = `query NoNotes($id: ID!, $atLeast: Int) { customer(id: $id, atLeast: $atLeast) { id } }`;
const ADD_NOTE = FORMS.find((spec) => spec.name === "addNote");

export function Notes({ session, customer, stamp, onSaved }) {
  const { data, error } = useQuery(
    () => gqlWithFallback(NOTES, WITHOUT, { id: customer.id, atLeast: stamp }), [customer.id, customer.version, stamp]);
  let body;
  if (error) body = html`<${ErrorNote} error=${error} />`;
  else if (!data) body = html`<${Loading} />`;
  else if (!data.full) body = html`<p class="notice">${t("notesMissing")}</p>`;
  else {
    const notes = data.data.customer?.notes.edges.map((e) => e.node) ?? [];
    body = notes.length === 0 ? html`<p>${t("nothing")}</p>` : html`<ol id="notes">
      ${notes.map((n) => html`<li data-note=${n.noteId}>
        <time datetime=${n.at}>${dateTime(n.at)}</time> <small>${n.author ?? ""}</small>
        <p><${Personal} value=${n.text} customer=${customer} /></p></li>`)}
    </ol>`;
  }
  return html`<section aria-labelledby="notes-title" class="card wide">
    <h2 id="notes-title">${t("notes")}</h2>${body}
    ${can(session, "addNote") && !customer.forgotten && html`<${CommandForm} spec=${ADD_NOTE}
      fixed=${{ customerId: customer.id }} onSaved=${(saved) => onSaved(saved.position)} />`}
  </section>`;
}
