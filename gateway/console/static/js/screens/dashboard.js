// Funnel (window and source), lifecycle and tier distributions, revenue by month.
import { html, useState } from "../ui.js";
import { gql, gqlWithFallback } from "../api.js";
import { label, t } from "../i18n.js";
import { money, percent } from "../format.js";
import { ErrorNote, Loading, useQuery } from "../components.js";

// Whole business days, both ends included, in the deployment's zone (the API's rule).
const FUNNEL = `query Funnel($fromDate: Date, $toDate: Date, $source: String) {
  funnel(fromDate: $fromDate, toDate: $toDate, source: $source) {
    stages { stage reached conversionFromPrevious }
  }
}`;
const DISTRIBUTIONS = `query Distributions {
  lifecycleDistribution { stage count }
  tierDistribution { tier count }
}`;
const REVENUE = `query Revenue { revenueByMonth { month total } }`;
const NO_REVENUE = `query NoRevenue { __typename }`;

function Bars({ id, title, rows }) {
  const most = Math.max(1, ...rows.map((r) => r.value));
  return html`<section class="card" aria-labelledby="${id}-title">
    <h2 id="${id}-title">${title}</h2>
    <table id=${id} class="bars">
      <tbody>${rows.map((r) => html`<tr>
        <th scope="row">${r.name}</th>
        <td><span class="bar" style="width: ${(100 * r.value) / most}%"></span></td>
        <td class="number">${r.shown ?? r.value}</td>
      </tr>`)}</tbody>
    </table>
  </section>`;
}

function Funnel() {
  const [range, setRange] = useState({ from: "", to: "", source: "" });
  const [asked, setAsked] = useState({});
  const { data, error } = useQuery(() => gql(FUNNEL, asked), [JSON.stringify(asked)]);
  const apply = (event) => {
    event.preventDefault();
    setAsked({
      fromDate: range.from || null,
      toDate: range.to || null,
      source: range.source.trim() || null,
    });
  };
  const set = (name) => (e) => setRange({ ...range, [name]: e.target.value });
  return html`<section class="card wide" aria-labelledby="funnel-title">
    <h2 id="funnel-title">${t("funnel")}</h2>
    <form class="filters" onSubmit=${apply}>
      <label for="funnel-from">${t("from")}</label>
      <input id="funnel-from" type="date" value=${range.from} onInput=${set("from")} />
      <label for="funnel-to">${t("to")}</label>
      <input id="funnel-to" type="date" value=${range.to} onInput=${set("to")} />
      <label for="funnel-source">${t("source")}</label>
      <input id="funnel-source" value=${range.source} onInput=${set("source")} />
      <button type="submit">${t("apply")}</button>
    </form>
    <${ErrorNote} error=${error} />
    ${data && html`<table id="funnel" class="bars"><thead><tr>
        <th scope="col">${t("stage")}</th><th scope="col">${t("reached")}</th>
        <th scope="col"></th><th scope="col">${t("conversion")}</th></tr></thead>
      <tbody>${data.funnel.stages.map((s) => html`<tr>
        <th scope="row">${label("stage", s.stage)}</th><td class="number">${s.reached}</td>
        <td><span class="bar" style="width: ${100 * (s.reached / Math.max(1, data.funnel.stages[0].reached))}%"></span></td>
        <td class="number">${percent(s.conversionFromPrevious)}</td></tr>`)}</tbody></table>`}
  </section>`;
}

function Revenue() {
  const { data, error } = useQuery(() => gqlWithFallback(REVENUE, NO_REVENUE, {}), []);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<${Loading} />`;
  if (!data.full) {
    return html`<section class="card"><h2>${t("revenueByMonth")}</h2>
      <p class="notice">${t("revenueMissing")}</p></section>`;
  }
  const rows = data.data.revenueByMonth.map((m) => ({
    name: m.month, value: Number(m.total), shown: money(m.total) }));
  return html`<${Bars} id="revenue" title=${t("revenueByMonth")} rows=${rows} />`;
}

export function Dashboard() {
  const { data, error } = useQuery(() => gql(DISTRIBUTIONS), []);
  return html`<section aria-labelledby="dashboard-title">
    <h1 id="dashboard-title">${t("dashboard")}</h1>
    <div class="grid">
      <${Funnel} />
      <${ErrorNote} error=${error} />
      ${data && html`
        <${Bars} id="lifecycle" title=${t("lifecycleDistribution")} rows=${data.lifecycleDistribution
          .map((r) => ({ name: label("lifecycle", r.stage), value: r.count }))} />
        <${Bars} id="tiers" title=${t("tierDistribution")} rows=${data.tierDistribution
          .map((r) => ({ name: label("tier", r.tier), value: r.count }))} />`}
      <${Revenue} />
    </div>
  </section>`;
}
