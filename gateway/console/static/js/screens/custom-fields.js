// The profile's custom fields: a value as the API answers it (TEXT is personal, so null
// for a role that may not see it), and a small form to set one field (setCustomFields).
import { html, useState } from "../ui.js";
import { gql, ApiError } from "../api.js";
import { t } from "../i18n.js";
import { ErrorNote, Personal, useQuery } from "../components.js";

const DEFINITIONS = `query CustomFieldDefinitions { customFields { key label type choices } }`;
const SET = `mutation SetCustomFields($input: SetCustomFieldsInput!) {
  setCustomFields(input: $input) { customer { id version } position }
}`;

export function CustomFieldValue({ field, customer }) {
  if (field.type === "MULTI_CHOICE") {
    return field.values.length === 0 ? html`—`
      : field.values.map((v) => html`<span class="tag">${v}</span>`);
  }
  if (field.type === "TEXT") return html`<${Personal} value=${field.value} customer=${customer} />`;
  return html`${field.value ?? "—"}`;
}

// The input for one definition's type; MULTI_CHOICE as comma-separated choices.
function ValueInput({ definition, value, onInput, invalid }) {
  const common = {
    id: "custom-field-value", value, onInput: (e) => onInput(e.target.value),
    "aria-invalid": invalid ? "true" : undefined,
    "aria-describedby": invalid ? "custom-field-value-error" : undefined,
  };
  if (definition?.type === "SINGLE_CHOICE") {
    return html`<select ...${common}>
      <option value="">—</option>
      ${definition.choices.map((c) => html`<option value=${c}>${c}</option>`)}
    </select>`;
  }
  const type = { NUMBER: "number", DATE: "date" }[definition?.type] ?? "text";
  return html`<input type=${type} step=${type === "number" ? "any" : undefined} ...${common} />`;
}

function valueInput(definition, text) {
  if (definition.type !== "MULTI_CHOICE") return { key: definition.key, value: text || null };
  const values = text.split(",").map((s) => s.trim()).filter(Boolean);
  return { key: definition.key, values };
}

export function CustomFieldsForm({ customer, onSaved }) {
  const { data, error: loadError } = useQuery(() => gql(DEFINITIONS), []);
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [result, setResult] = useState({ error: null, fieldError: null, saved: false });
  const definitions = data?.customFields ?? [];
  const definition = definitions.find((d) => d.key === key) ?? definitions[0];

  const submit = async (event) => {
    event.preventDefault();
    try {
      const saved = await gql(SET, {
        input: { customerId: customer.id, values: [valueInput(definition, value)] },
      });
      setResult({ error: null, fieldError: null, saved: true });
      setValue("");
      onSaved(saved.setCustomFields.position);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      // The API names `customFields.<key>` (or the input's `values`): the value is wrong.
      const fieldError = Object.entries(error.fieldErrors)
        .find(([field]) => field.startsWith("customFields") || field.startsWith("values"))?.[1];
      setResult({ error: fieldError ? null : error, fieldError: fieldError ?? null, saved: false });
    }
  };

  return html`<form id="form-setCustomFields" class="card" onSubmit=${submit} noValidate
      aria-labelledby="form-setCustomFields-title">
    <h2 id="form-setCustomFields-title">${t("setCustomFields")}</h2>
    <${ErrorNote} error=${loadError} />
    ${data && definitions.length === 0 ? html`<p>${t("noCustomFields")}</p>` : html`
      <div class="field">
        <label for="custom-field-key">${t("customField")}</label>
        <select id="custom-field-key" value=${definition?.key ?? ""}
          onChange=${(e) => { setKey(e.target.value); setValue(""); }}>
          ${definitions.map((d) => html`<option value=${d.key}>${d.label}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="custom-field-value">${definition?.type === "MULTI_CHOICE"
          ? t("customFieldChoices") : t("customFieldValue")}</label>
        <${ValueInput} definition=${definition} value=${value} onInput=${setValue}
          invalid=${!!result.fieldError} />
        ${definition?.choices.length > 0 && html`<small>${definition.choices.join(", ")}</small>`}
        ${result.fieldError && html`<p class="field-error" id="custom-field-value-error" role="alert">
          <code>${result.fieldError.extensions?.code}</code> ${result.fieldError.message}</p>`}
      </div>
      <${ErrorNote} error=${result.error} />
      ${result.saved && html`<p class="saved" role="status">${t("saved")}</p>`}
      <button type="submit" disabled=${!definition}>${t("submit")}</button>`}
  </form>`;
}
