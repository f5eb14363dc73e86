// The 360° profile: details, purchases, touches, complaints, tags, lifecycle and tier
// with what they are derived from, notes, the caller's tasks on the customer, and the
// timeline; kept current by the live feed, and reloaded (with `atLeast` the write's
// position) after a note or task saved here. A reload that fails keeps what is shown.
import { html, useEffect, useState } from "../ui.js";
import { gqlWithFallback, subscribe } from "../api.js";
import { label, language, t } from "../i18n.js";
import { dateTime, money } from "../format.js";
import { can } from "../roles.js";
import { eventLabel } from "../wording.js";
import { ErrorNote, Loading, Personal } from "../components.js";
import { Timeline } from "./timeline.js";
import { Notes } from "./notes.js";
import { CustomerTasks } from "./tasks.js";
import { CustomFieldsForm, CustomFieldValue } from "./custom-fields.js";

const PROFILE_FIELDS = `
    id version name email phone address company industry region source owner tags
    stage lifecycleStage lifecycleReason tier tierReason forgotten mergedIds referredBy createdAt updatedAt
    purchases { count total firstAt lastAt }
    orders(first: 10) { edges { node { orderId at currency total totalCny } } }
    touches { count lastAt byChannel { channel count } }
    complaints { id category severity status filedAt resolvedAt description resolution }`;
// Custom fields asked for where the gateway has them (docs/console.md, "Screens degrade").
const PROFILE = `query Profile($id: ID!, $atLeast: Int) {
  customer(id: $id, atLeast: $atLeast) { ${PROFILE_FIELDS}
    customFields { key label type value values }
  }
}`;
const PROFILE_WITHOUT_CUSTOM = `query ProfileBasic($id: ID!, $atLeast: Int) {
  customer(id: $id, atLeast: $atLeast) { ${PROFILE_FIELDS} }
}`;
const LIVE = `subscription Live($id: ID) {
  customerEvents(customerId: $id) { position type actor occurredAt }
}`;

function Field({ name, children }) {
  return html`<dt>${t(name)}</dt><dd data-field=${name}>${children}</dd>`;
}

function Details({ c }) {
  return html`<section aria-labelledby="details-title" class="card">
    <h2 id="details-title">${t("details")}</h2>
    <dl>
      <${Field} name="name"><${Personal} value=${c.name} customer=${c} /><//>
      <${Field} name="email"><${Personal} value=${c.email} customer=${c} /><//>
      <${Field} name="phone"><${Personal} value=${c.phone} customer=${c} /><//>
      <${Field} name="address"><${Personal} value=${c.address} customer=${c} /><//>
      <${Field} name="company">${c.company ?? "—"}<//>
      <${Field} name="industry">${c.industry ?? "—"}<//>
      <${Field} name="region">${c.region ?? "—"}<//>
      <${Field} name="source">${c.source ?? "—"}<//>
      <${Field} name="owner">${c.owner ?? "—"}<//>
      <${Field} name="stage"><span id="profile-stage">${label("stage", c.stage)}</span><//>
      <${Field} name="tags">${c.tags.map((tag) => html`<span class="tag">${tag}</span>`)}<//>
      <${Field} name="version">${c.version}<//>
      <${Field} name="created">${dateTime(c.createdAt)}<//>
      <${Field} name="updated">${dateTime(c.updatedAt)}<//>
      ${c.mergedIds.length > 0 && html`<${Field} name="merged">${c.mergedIds.map(
        (id) => html`<code>${id}</code> `)}<//>`}
      ${c.customFields?.map((f) => html`<dt>${f.label}</dt>
        <dd data-custom-field=${f.key}><${CustomFieldValue} field=${f} customer=${c} /></dd>`)}
    </dl>
    ${!c.customFields && html`<p class="notice">${t("customFieldsMissing")}</p>`}
  </section>`;
}

// Lifecycle and tier come with the API's reason (the rule that matched, with its facts),
// an English sentence with no structured form in the schema: shown as it is in English,
// and in Chinese as the matching rule in general terms (`lifecycleRule`, `tierRule`).
function Reason({ id, sentence, kind, value }) {
  const text = language() === "en" ? sentence : label(kind, value);
  return html`<small id=${id}>${text}</small>`;
}

function Standing({ c }) {
  const open = c.complaints.filter((x) => x.status !== "RESOLVED").length;
  return html`<section aria-labelledby="standing-title" class="card">
    <h2 id="standing-title">${t("lifecycle")} · ${t("tier")}</h2>
    <p><strong id="profile-lifecycle">${label("lifecycle", c.lifecycleStage)}</strong>
      — <small>${t("lifecycleBasis", { count: c.purchases.count, last: dateTime(c.purchases.lastAt),
        stage: label("stage", c.stage), open })}</small>
      <br /><${Reason} id="profile-lifecycle-reason" sentence=${c.lifecycleReason}
        kind="lifecycleRule" value=${c.lifecycleStage} /></p>
    <p><strong id="profile-tier">${label("tier", c.tier)}</strong>
      — <small>${t("tierBasis", { total: money(c.purchases.total) })}</small>
      <br /><${Reason} id="profile-tier-reason" sentence=${c.tierReason}
        kind="tierRule" value=${c.tier} /></p>
  </section>`;
}

function Activity({ c }) {
  return html`<section aria-labelledby="activity-title" class="card">
    <h2 id="activity-title">${t("purchases")} · ${t("touches")}</h2>
    <dl>
      <${Field} name="purchaseCount">${c.purchases.count}<//>
      <${Field} name="purchaseTotal"><span id="profile-total">${money(c.purchases.total)}</span><//>
      <${Field} name="firstPurchase">${dateTime(c.purchases.firstAt)}<//>
      <${Field} name="lastPurchase">${dateTime(c.purchases.lastAt)}<//>
      <${Field} name="touchCount">${c.touches.count}<//>
      <${Field} name="lastTouch">${dateTime(c.touches.lastAt)}<//>
      <${Field} name="channel">${c.touches.byChannel.map(
        (b) => html`<span class="tag">${label("channel", b.channel)} ${b.count}</span>`)}<//>
    </dl>
  </section>`;
}

function Orders({ c }) {
  const orders = c.orders.edges.map((e) => e.node);
  return html`<section aria-labelledby="orders-title" class="card wide">
    <h2 id="orders-title">${t("orders")}</h2>
    ${orders.length === 0 ? html`<p>${t("nothing")}</p>` : html`<table class="list" id="orders">
      <thead><tr><th scope="col">${t("orderId")}</th><th scope="col">${t("occurredAt")}</th>
        <th scope="col">${t("amount")}</th><th scope="col">${t("purchaseTotal")}</th></tr></thead>
      <tbody>${orders.map((o) => html`<tr>
        <td>${o.orderId}</td><td>${dateTime(o.at)}</td>
        <td class="number">${o.total} ${o.currency}</td>
        <td class="number">${money(o.totalCny)}</td></tr>`)}</tbody>
    </table>`}
  </section>`;
}

function Complaints({ c }) {
  return html`<section aria-labelledby="complaints-title" class="card wide">
    <h2 id="complaints-title">${t("complaints")}</h2>
    ${c.complaints.length === 0 ? html`<p>${t("nothing")}</p>` : html`<table class="list">
      <thead><tr><th scope="col">${t("category")}</th><th scope="col">${t("severity")}</th>
        <th scope="col">${t("status")}</th><th scope="col">${t("filedAt")}</th>
        <th scope="col">${t("description")}</th><th scope="col">${t("resolution")}</th></tr></thead>
      <tbody>${c.complaints.map((x) => html`<tr>
        <td>${x.category}</td><td>${label("severity", x.severity)}</td>
        <td>${label("complaintStatus", x.status)}</td><td>${dateTime(x.filedAt)}</td>
        <td><${Personal} value=${x.description} customer=${c} /></td>
        <td><${Personal} value=${x.resolution} customer=${c} /></td></tr>`)}</tbody>
    </table>`}
  </section>`;
}

function LiveFeed({ events }) {
  return html`<section aria-labelledby="live-title" class="card">
    <h2 id="live-title">${t("live")}</h2>
    <p><small>${t("liveHint")}</small></p>
    <ul id="live-feed" aria-live="polite">
      ${events.map((e) => html`<li data-type=${e.type}>
        ${dateTime(e.occurredAt)} <span title=${e.type}>${eventLabel(e.type)}</span> ${e.actor ?? ""}</li>`)}
    </ul>
  </section>`;
}

// A reload that failed (a write's `atLeast` the read models did not reach in time:
// TIMEOUT) leaves the profile loaded before on screen, says why it may be behind, and
// offers to ask again.
function ReloadError({ error, onRetry }) {
  return html`<p class="error" role="alert" id="profile-reload-error">${t("reloadFailed")}
    <code>${error.code || "ERROR"}</code> ${error.message}
    <button type="button" onClick=${onRetry}>${t("retry")}</button>
  </p>`;
}

export function Profile({ session, id }) {
  // `customer` undefined while the first answer is out; null when the API has none to
  // give (an unknown id, or one outside the caller's scope: docs/roles.md, "scoping").
  // `error` beside a customer: a reload of that customer (`forId`) failed.
  const [state, setState] = useState({ forId: id, customer: undefined, error: null });
  const [atLeast, setAtLeast] = useState(null);
  // The position the profile on screen is known to include: the sections reading the
  // same read models (notes, tasks, timeline) reload with it once the profile's read
  // waited for it, so a lagging read model fails once, here, not in every section.
  const [included, setIncluded] = useState(null);
  const [tries, setTries] = useState(0);
  const [events, setEvents] = useState([]);

  useEffect(() => {
    gqlWithFallback(PROFILE, PROFILE_WITHOUT_CUSTOM, { id, atLeast })
      .then(({ data }) => {
        setState({ forId: id, customer: data.customer, error: null });
        setIncluded(atLeast);
      })
      .catch((error) => setState((s) => ({
        forId: id, customer: s.forId === id ? s.customer ?? null : null, error })));
  }, [id, atLeast, tries]);

  // Another user's change arrives as an event; reload once the read models include it.
  useEffect(() => subscribe(LIVE, { id }, ({ customerEvents: event }) => {
    setEvents((list) => [event, ...list].slice(0, 20));
    setAtLeast(event.position);
  }), [id]);

  const c = state.customer && { ...state.customer, masked: !can(session, "seePersonal") };
  if (state.error && !c) return html`<${ErrorNote} error=${state.error} />`;
  if (state.customer === null) {
    return html`<p class="error" role="alert" id="profile-missing">${t("customerNotFound")}</p>`;
  }
  if (!c) return html`<${Loading} />`;
  return html`<article aria-labelledby="profile-title" class="profile">
    <h1 id="profile-title"><${Personal} value=${c.name} customer=${c} /></h1>
    <p class="actions">
      ${can(session, "audit") && html`<a href="#/compliance/${c.id}">${t("audit")}</a>`}
      <code>${c.id}</code>
    </p>
    ${state.error && html`<${ReloadError} error=${state.error} onRetry=${() => setTries((n) => n + 1)} />`}
    <div class="grid">
      <${Details} c=${c} />
      ${can(session, "setCustomFields") && !c.forgotten && c.customFields
        && html`<${CustomFieldsForm} customer=${c} onSaved=${setAtLeast} />`}
      <${Standing} c=${c} />
      <${Activity} c=${c} />
      <${LiveFeed} events=${events} />
      <${Orders} c=${c} />
      <${Complaints} c=${c} />
      ${can(session, "timeline") && html`<${Notes} session=${session} customer=${c}
        stamp=${included} onSaved=${setAtLeast} />`}
      ${(can(session, "myTasks") || can(session, "scheduleTask")) && !c.forgotten
        && html`<${CustomerTasks} session=${session} customerId=${c.id} stamp=${included}
          onSaved=${setAtLeast} />`}
      ${can(session, "timeline") && html`<${Timeline} id=${c.id} version=${c.version}
        stamp=${included} />`}
    </div>
  </article>`;
}

