// Compliance: a customer's audit trail (actor, before/after per field), its state as of
// a chosen moment, the hash chain's status, a data-subject export and erasure.
import { html, useState } from "../ui.js";
import { gql, gqlWithFallback } from "../api.js";
import { t } from "../i18n.js";
import { dateTime } from "../format.js";
import { eventLabel, fieldLabel } from "../wording.js";
import { ErrorNote, Loading, useQuery } from "../components.js";
import { go } from "../router.js";
import { AsOf } from "./asof.js";
import { newKey } from "./forms.js";

const EVENT = "position type version occurredAt recordedAt actor data";
const TRAIL = `query Trail($id: ID!) {
  auditTrail(customerId: $id, first: 500) { edges { node { ${EVENT} changes { field before after } } } }
}`;
const TRAIL_WITHOUT_CHANGES = `query TrailPlain($id: ID!) {
  auditTrail(customerId: $id, first: 500) { edges { node { ${EVENT} } } }
}`;
const CHAIN = `query Chain { auditChain { intact eventsChecked firstBreak { position kind } } }`;
const NO_CHAIN = `query NoChain { __typename }`;
const EXPORT = `query Export($id: ID!) { subjectExport(customerId: $id) { fileName document } }`;
const FORGET = `mutation Forget($input: ForgetCustomerInput!) {
  forgetCustomer(input: $input) { customer { id forgotten version } }
}`;
const FIND = `query Find($text: String) {
  customers(filter: {text: $text}, first: 10) { edges { node { id name company forgotten } } }
}`;

function Picker() {
  const [text, setText] = useState("");
  const [asked, setAsked] = useState(null);
  const { data } = useQuery(() => (asked === null ? Promise.resolve(null) : gql(FIND, { text: asked })), [asked]);
  return html`<form class="filters" role="search"
      onSubmit=${(e) => { e.preventDefault(); setAsked(text.trim() || null); }}>
    <label for="compliance-search">${t("pickCustomer")}</label>
    <input id="compliance-search" type="search" value=${text} placeholder=${t("searchHint")}
      onInput=${(e) => setText(e.target.value)} />
    <button type="submit">${t("search")}</button>
    <ul>${data?.customers.edges.map(({ node }) => html`<li>
      <a href="#/compliance/${node.id}">${node.name ?? t("erased")}</a> <code>${node.id}</code></li>`)}</ul>
  </form>`;
}

// Values are JSON text (null when hidden from the role or erased).
function Value({ json }) {
  if (json === null || json === undefined) return html`<span class="masked">—</span>`;
  return html`<code>${json}</code>`;
}

function Trail({ id, version }) {
  const { data, error } = useQuery(() => gqlWithFallback(TRAIL, TRAIL_WITHOUT_CHANGES, { id }), [id, version]);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<${Loading} />`;
  const events = data.data.auditTrail.edges.map((e) => e.node);
  return html`<section class="card wide" aria-labelledby="trail-title">
    <h2 id="trail-title">${t("auditTrail")}</h2>
    <table id="audit-trail" class="list">
      <thead><tr><th scope="col">${t("position")}</th><th scope="col">${t("type")}</th>
        <th scope="col">${t("actor")}</th><th scope="col">${t("occurredAt")}</th>
        <th scope="col">${t("changes")}</th></tr></thead>
      <tbody>${events.map((e) => html`<tr data-position=${e.position}>
        <td>${e.position}</td><td title=${e.type}>${eventLabel(e.type)}</td><td>${e.actor ?? "—"}</td>
        <td>${dateTime(e.occurredAt)}</td>
        <td>${data.full ? html`<table class="changes"><tbody>${e.changes.map((c) => html`<tr>
            <th scope="row" data-field=${c.field} title=${c.field}>${fieldLabel(c.field)}</th><td><${Value} json=${c.before} /></td>
            <td>→</td><td><${Value} json=${c.after} /></td></tr>`)}</tbody></table>`
          : html`<code class="data">${e.data}</code>`}</td>
      </tr>`)}</tbody>
    </table>
    <${AsOf} key=${events.length} id=${id} events=${events} version=${version} />
  </section>`;
}

function Chain() {
  const { data, error } = useQuery(() => gqlWithFallback(CHAIN, NO_CHAIN, {}), []);
  let body;
  if (error) body = html`<${ErrorNote} error=${error} />`;
  else if (!data) body = html`<${Loading} />`;
  else if (!data.full) body = html`<p class="notice">${t("chainMissing")}</p>`;
  else {
    const chain = data.data.auditChain;
    body = chain.intact
      ? html`<p id="chain-status" class="ok">${t("chainOk", { count: chain.eventsChecked })}</p>`
      : html`<p id="chain-status" class="error">${t("chainBroken", chain.firstBreak)}</p>`;
  }
  return html`<section class="card" aria-labelledby="chain-title">
    <h2 id="chain-title">${t("chain")}</h2>${body}</section>`;
}

function download(fileName, text) {
  const link = Object.assign(document.createElement("a"), {
    href: URL.createObjectURL(new Blob([text], { type: "application/json" })),
    download: fileName,
  });
  link.click();
  URL.revokeObjectURL(link.href);
}

// The data-subject export `crm audit export` writes (manifest, per-section SHA-256,
// checksum), built by the gateway and saved as it comes, so the file verifies.
async function exportSubject(id) {
  try {
    const { fileName, document: text } = (await gql(EXPORT, { id })).subjectExport;
    download(fileName, text);
  } catch (failure) {
    // Damaged values (CORRUPTED) come with a document complete but for them: save it too.
    const partial = failure.data?.subjectExport;
    if (partial) download(partial.fileName, partial.document);
    throw failure;
  }
}

// As every form (docs/console.md): one idempotency key per erasure meant (a new one on
// any edit), and the button disabled while the request is out, so a double click or a
// retry after a lost answer erases once.
function Erase({ id, onErased }) {
  const [reason, setReason] = useState("");
  const [typed, setTyped] = useState("");
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const [intent, setIntent] = useState(newKey);
  const [sending, setSending] = useState(false);
  const edit = (set) => (e) => {
    set(e.target.value);
    setIntent(newKey());
  };
  const submit = async (event) => {
    event.preventDefault();
    if (sending) return;
    setSending(true);
    try {
      await gql(FORGET, { input: { customerId: id, reason, idempotencyKey: intent } });
      setDone(true);
      setError(null);
      setIntent(newKey());
      onErased();
    } catch (failure) {
      setError(failure);
    } finally {
      setSending(false);
    }
  };
  return html`<form id="erase" class="card danger" onSubmit=${submit} aria-labelledby="erase-title">
    <h2 id="erase-title">${t("erase")}</h2>
    <p>${t("eraseWarning")}</p>
    <label for="erase-reason">${t("eraseReason")}</label>
    <input id="erase-reason" required value=${reason} onInput=${edit(setReason)} />
    <label for="erase-confirm">${t("eraseConfirm")}: <code>${id}</code></label>
    <input id="erase-confirm" autocomplete="off" value=${typed} onInput=${edit(setTyped)} />
    <${ErrorNote} error=${error} />
    ${done && html`<p role="status" class="ok">${t("erasedDone")}</p>`}
    <button type="submit" disabled=${sending || typed.trim() !== id || !reason.trim()}
      aria-busy=${sending ? "true" : undefined}>${t("erase")}</button>
  </form>`;
}

export function Compliance({ id }) {
  const [version, setVersion] = useState(0);
  const [exportError, setExportError] = useState(null);
  if (!id) {
    return html`<section aria-labelledby="compliance-title">
      <h1 id="compliance-title">${t("compliance")}</h1><${Chain} /><${Picker} /></section>`;
  }
  return html`<section aria-labelledby="compliance-title">
    <h1 id="compliance-title">${t("compliance")} · <code>${id}</code></h1>
    <p class="actions">
      <a href="#/customers/${id}">${t("details")}</a>
      <button type="button" id="export"
        onClick=${() => exportSubject(id).then(() => setExportError(null), setExportError)}>${t("exportData")}</button>
      <button type="button" onClick=${() => go("compliance")}>${t("pickCustomer")}</button>
    </p>
    <${ErrorNote} error=${exportError} />
    <div class="grid">
      <${Chain} />
      <${Erase} id=${id} onErased=${() => setVersion((n) => n + 1)} />
      <${Trail} id=${id} version=${version} />
    </div>
  </section>`;
}
