// The customer list: text search, filters, sort and Relay paging (first/after, last/before).
import { html, useState } from "../ui.js";
import { gql } from "../api.js";
import { label, t } from "../i18n.js";
import { can } from "../roles.js";
import { EnumSelect, ErrorNote, Loading, Personal, useQuery } from "../components.js";
import { FIRST_ORDER, LIST, PAGE } from "./customers-query.js";

function compact(filter) {
  return Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== null && v !== ""));
}

export function CustomerList({ session }) {
  const [text, setText] = useState("");
  const [filter, setFilter] = useState({});
  const [order, setOrder] = useState(FIRST_ORDER);
  const [page, setPage] = useState({ first: PAGE });
  const masked = !can(session, "seePersonal");
  const variables = { filter: compact(filter), orderBy: order, ...page };
  const { data, error, loading } = useQuery(() => gql(LIST, variables), [JSON.stringify(variables)]);

  const refine = (change) => {
    setFilter({ ...filter, ...change });
    setPage({ first: PAGE });
  };
  const search = (event) => {
    event.preventDefault();
    refine({ text: text.trim() || null });
  };
  const connection = data?.customers;

  return html`<section aria-labelledby="customers-title">
    <h1 id="customers-title">${t("customers")}</h1>
    <form class="filters" role="search" onSubmit=${search}>
      ${!masked && html`<label for="search">${t("search")}</label>
      <input id="search" type="search" placeholder=${t("searchHint")} value=${text}
        onInput=${(e) => setText(e.target.value)} />
      <button type="submit">${t("search")}</button>`}
      <${EnumSelect} id="filter-tier" kind="tier" any text=${t("tier")}
        value=${filter.tier} onChange=${(v) => refine({ tier: v })} />
      <${EnumSelect} id="filter-lifecycle" kind="lifecycle" any text=${t("lifecycle")}
        value=${filter.lifecycleStage} onChange=${(v) => refine({ lifecycleStage: v })} />
      <${EnumSelect} id="filter-stage" kind="stage" any text=${t("stage")}
        value=${filter.stage} onChange=${(v) => refine({ stage: v })} />
      <label for="filter-owner">${t("owner")}</label>
      <input id="filter-owner" value=${filter.owner ?? ""}
        onChange=${(e) => refine({ owner: e.target.value.trim() || null })} />
      <label for="filter-tag">${t("tag")}</label>
      <input id="filter-tag" value=${filter.tag ?? ""}
        onChange=${(e) => refine({ tag: e.target.value.trim().toLowerCase() || null })} />
      <${EnumSelect} id="sort-field" kind="order" text=${t("sortBy")} value=${order.field}
        omit=${masked ? ["NAME"] : []}
        onChange=${(v) => { setOrder({ ...order, field: v }); setPage({ first: PAGE }); }} />
      <${EnumSelect} id="sort-direction" kind="sort" text=${t("direction")} value=${order.direction}
        onChange=${(v) => { setOrder({ ...order, direction: v }); setPage({ first: PAGE }); }} />
    </form>
    <${ErrorNote} error=${error} />
    ${loading && !connection ? html`<${Loading} />` : connection && html`
      <p id="customer-count">${t("total", { count: connection.totalCount })}</p>
      <table class="list" aria-busy=${loading}>
        <thead><tr>
          <th scope="col">${t("name")}</th><th scope="col">${t("email")}</th>
          <th scope="col">${t("phone")}</th><th scope="col">${t("company")}</th>
          <th scope="col">${t("stage")}</th><th scope="col">${t("lifecycle")}</th>
          <th scope="col">${t("tier")}</th><th scope="col">${t("owner")}</th>
          <th scope="col">${t("tags")}</th>
        </tr></thead>
        <tbody>
          ${connection.edges.length === 0 && html`<tr><td colspan="9">${t("nothing")}</td></tr>`}
          ${connection.edges.map(({ node }) => {
            const c = { ...node, masked };
            return html`<tr data-customer=${c.id}>
              <td><a href="#/customers/${c.id}" class="customer-link">
                <${Personal} value=${c.name} customer=${c} /></a></td>
              <td><${Personal} value=${c.email} customer=${c} /></td>
              <td><${Personal} value=${c.phone} customer=${c} /></td>
              <td>${c.company ?? "—"}</td>
              <td>${label("stage", c.stage)}</td>
              <td>${label("lifecycle", c.lifecycleStage)}</td>
              <td>${label("tier", c.tier)}</td>
              <td>${c.owner ?? "—"}</td>
              <td>${c.tags.map((tag) => html`<span class="tag">${tag}</span>`)}</td>
            </tr>`;
          })}
        </tbody>
      </table>
      <nav class="pager" aria-label="pages">
        <button type="button" id="page-previous" disabled=${!connection.pageInfo.hasPreviousPage}
          onClick=${() => setPage({ last: PAGE, before: connection.pageInfo.startCursor })}>
          ${t("previous")}</button>
        <button type="button" id="page-next" disabled=${!connection.pageInfo.hasNextPage}
          onClick=${() => setPage({ first: PAGE, after: connection.pageInfo.endCursor })}>
          ${t("next")}</button>
      </nav>`}
  </section>`;
}
