// The customer's state as of a moment chosen with a slider over its recorded events.
import { html, useState } from "../ui.js";
import { gql } from "../api.js";
import { label, t } from "../i18n.js";
import { dateTime, money } from "../format.js";
import { ErrorNote, useQuery } from "../components.js";

const AS_OF = `query AsOf($id: ID!, $at: DateTime!) {
  customerAsOf(id: $id, at: $at) { version name email phone company region source stage tags
    purchaseCount purchaseTotal lastPurchaseAt forgotten mergedInto asOf }
}`;

// `version` changes after an erasure: past states are then asked again (they lose the data too).
export function AsOf({ id, events, version }) {
  const [index, setIndex] = useState(events.length - 1);
  const at = events[Math.max(0, index)]?.occurredAt;
  const { data, error } = useQuery(() => (at ? gql(AS_OF, { id, at }) : Promise.resolve(null)), [id, at, version]);
  const state = data?.customerAsOf;
  return html`<div class="asof">
    <h3>${t("asOf")}</h3>
    <label for="asof-slider">${t("asOfAt", { at: dateTime(at) })}</label>
    <input id="asof-slider" type="range" min="0" max=${Math.max(0, events.length - 1)} step="1"
      value=${index} onInput=${(e) => setIndex(Number(e.target.value))}
      aria-valuetext=${dateTime(at)} />
    <${ErrorNote} error=${error} />
    ${state && html`<dl id="asof-state">
      <dt>${t("version")}</dt><dd>${state.version}</dd>
      <dt>${t("name")}</dt><dd>${state.name ?? (state.forgotten ? t("erased") : "—")}</dd>
      <dt>${t("email")}</dt><dd>${state.email ?? "—"}</dd>
      <dt>${t("phone")}</dt><dd>${state.phone ?? "—"}</dd>
      <dt>${t("company")}</dt><dd>${state.company ?? "—"}</dd>
      <dt>${t("stage")}</dt><dd data-field="stage">${label("stage", state.stage)}</dd>
      <dt>${t("tags")}</dt><dd>${state.tags.join(", ") || "—"}</dd>
      <dt>${t("purchaseCount")}</dt><dd>${state.purchaseCount}</dd>
      <dt>${t("purchaseTotal")}</dt><dd>${money(state.purchaseTotal)}</dd>
    </dl>`}
  </div>`;
}
