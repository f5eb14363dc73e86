// Small pieces shared by the screens.
import { html, useLayoutEffect, useState } from "./ui.js";
import { enumValues, label, t } from "./i18n.js";

// A personal field: the value, or why there is none (erased, or hidden from this role).
export function Personal({ value, customer }) {
  if (value !== null && value !== undefined && value !== "") return html`${value}`;
  if (customer?.forgotten) return html`<span class="erased">${t("erased")}</span>`;
  if (value === null && customer?.masked) return html`<span class="masked">${t("masked")}</span>`;
  return html`—`;
}

// The API's error, with its code, as the user sees it.
export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">
    <code>${error.code || "ERROR"}</code> ${error.message}
  </p>`;
}

// What a screen (or a form reached by its address) the role may not use says instead.
export function Forbidden() {
  return html`<p class="error" role="alert">${t("forbidden")}</p>`;
}

export function Loading() {
  return html`<p class="loading" aria-busy="true">${t("loading")}</p>`;
}

// A labelled <select> over an enum (with an "all" choice when `any`).
// `omit`: values the caller's role may not use (the API would refuse them).
export function EnumSelect({ id, kind, value, onChange, any = false, text, omit = [] }) {
  return html`<label for=${id}>${text}</label>
    <select id=${id} value=${value ?? ""} onChange=${(e) => onChange(e.target.value || null)}>
      ${any && html`<option value="">${t("allValues")}</option>`}
      ${enumValues(kind).filter((v) => !omit.includes(v))
        .map((v) => html`<option value=${v}>${label(kind, v)}</option>`)}
    </select>`;
}

// Load with `load()` whenever `keys` change; gives { data, error, loading, reload }.
// A layout effect: the request goes out as the screen is rendered, not after the next
// frame is painted (an answer sent ahead, js/first-query.js, then shows without a frame).
export function useQuery(load, keys) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useLayoutEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    load()
      .then((data) => current && setState({ data, error: null, loading: false }))
      .catch((error) => current && setState({ data: null, error, loading: false }));
    return () => {
      current = false;
    };
  }, [...keys, tick]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}
