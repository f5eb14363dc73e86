// One form per command; an API error naming an input (`extensions.field`) is shown
// under that input, any other error above the submit button. The profile reuses
// `CommandForm` with the customer fixed (`fixed`) and a callback once saved; a screen
// showing one form many times (a queue row each) gives each its own `prefix` for ids.
import { html, useState } from "../ui.js";
import { gql, ApiError } from "../api.js";
import { enumValues, label, t } from "../i18n.js";
import { can } from "../roles.js";
import { FORMS } from "../forms-spec.js";
import { ErrorNote, Forbidden } from "../components.js";

// The form input an error belongs to: its exact name, else the input it is inside of
// ("add[2]" belongs to "add", "lines[0].unitPrice" to that line's input).
function inputOf(spec, field) {
  const names = spec.fields.map((f) => f.name);
  if (names.includes(field)) return field;
  return names.find((name) => field.startsWith(`${name}[`) || field.startsWith(`${name}.`)) ?? null;
}

function Input({ prefix, field, value, error, onInput }) {
  const id = `${prefix}-${field.name}`;
  const common = {
    id, name: field.name, required: field.required, value: value ?? "",
    "aria-invalid": error ? "true" : undefined,
    "aria-describedby": error ? `${id}-error` : undefined,
    onInput: (e) => onInput(field.name, e.target.value),
  };
  let control;
  if (field.kind) {
    control = html`<select ...${common}>
      <option value="">—</option>
      ${enumValues(field.kind).map((v) => html`<option value=${v}>${label(field.kind, v)}</option>`)}
    </select>`;
  } else if (field.multiline) {
    control = html`<textarea rows="3" ...${common}></textarea>`;
  } else {
    // Seconds too for a due time: a reminder a minute early is a wrong reminder.
    const step = field.type === "datetime-local" ? "1" : undefined;
    control = html`<input type=${field.type ?? "text"} step=${step} ...${common} />`;
  }
  return html`<div class="field">
    <label for=${id}>${t(field.text ?? field.name)}</label>
    ${control}
    ${error && html`<p class="field-error" id="${id}-error" role="alert">
      <code>${error.extensions?.code}</code> ${error.message}</p>`}
  </div>`;
}

// A version-4 UUID from the browser's random source (crypto.randomUUID exists only in
// secure contexts; a console reached over plain HTTP on a LAN address is not one).
export function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// `fixed`: inputs given by the screen (not shown); `initial`: prefilled ones; `prefix`:
// what the ids of the form and its inputs start with, unique on the page (labels and
// error descriptions point at them).
// One idempotency key per thing the user means to record: a double click, or a retry
// after a lost answer, sends the same key and records once; any edit makes a new one.
export function CommandForm({
  spec, fixed = {}, initial = {}, onSaved = () => {}, prefix = spec.name,
}) {
  const [values, setValues] = useState(initial);
  const [result, setResult] = useState({ error: null, byInput: {}, saved: null });
  const [intent, setIntent] = useState(newKey);
  const [sending, setSending] = useState(false);
  const set = (name, value) => {
    setValues({ ...values, [name]: value });
    setIntent(newKey());
  };

  const submit = async (event) => {
    event.preventDefault();
    if (sending) return;
    setSending(true);
    const typed = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ""));
    try {
      const input = { ...spec.input({ ...typed, ...fixed }), idempotencyKey: intent };
      const data = await gql(spec.mutation, { input });
      const saved = Object.values(data)[0];
      setResult({ error: null, byInput: {}, saved });
      setValues(initial);
      setIntent(newKey());
      onSaved(saved);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const byInput = {};
      for (const [field, detail] of Object.entries(error.fieldErrors)) {
        const name = inputOf(spec, field);
        if (name && !(name in fixed)) byInput[name] = detail;
      }
      const placed = Object.keys(byInput).length > 0;
      setResult({ error: placed ? null : error, byInput, saved: null });
    } finally {
      setSending(false);
    }
  };

  const saved = result.saved;
  // What the write made (an id), or for set-up changes where it landed (a position).
  const savedId = saved && (saved.task?.id ?? saved.customer?.id ?? saved.complaint?.id
    ?? saved.position);
  const shown = spec.fields.filter((field) => !(field.name in fixed));
  return html`<form id="form-${prefix}" class="command" onSubmit=${submit} noValidate
      aria-labelledby="form-${prefix}-title">
    <h2 id="form-${prefix}-title">${t(spec.name)}</h2>
    ${shown.map((field) => html`<${Input} prefix=${prefix} field=${field}
      value=${values[field.name]} error=${result.byInput[field.name]} onInput=${set} />`)}
    <${ErrorNote} error=${result.error} />
    ${savedId && html`<p class="saved" role="status">${t("saved")}: <code>${savedId}</code></p>`}
    <button type="submit" disabled=${sending} aria-busy=${sending ? "true" : undefined}>
      ${t("submit")}</button>
  </form>`;
}

// A form the role may not use, asked for by its address (`#/forms/merge` as sales),
// is refused as a screen is, not swapped for another one.
function chosen(allowed, form) {
  if (!form) return { current: allowed[0] };
  const current = allowed.find((spec) => spec.name === form);
  if (current) return { current };
  return { refusal: FORMS.some((spec) => spec.name === form) ? html`<${Forbidden} />`
    : html`<p>${t("notFound")}</p>` };
}

export function Forms({ session, form }) {
  const allowed = FORMS.filter((spec) => can(session, spec.permission));
  const { current, refusal } = chosen(allowed, form);
  return html`<section aria-labelledby="forms-title">
    <h1 id="forms-title">${t("forms")}</h1>
    <nav class="tabs" aria-label=${t("forms")}>
      ${allowed.map((spec) => html`<a href="#/forms/${spec.name}" id="tab-${spec.name}"
        aria-current=${spec === current ? "page" : undefined}>${t(spec.name)}</a>`)}
    </nav>
    ${current && html`<${CommandForm} key=${current.name} spec=${current} />`}
    ${refusal}
  </section>`;
}
