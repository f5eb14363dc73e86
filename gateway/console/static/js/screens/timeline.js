// A customer's timeline (Customer.timeline, newest first), reloaded when its version
// moves or the profile reloads (`stamp`: a task's events leave the version as it was),
// read with `atLeast` that stamp, a position the profile's read has reached.
import { html } from "../ui.js";
import { gqlWithFallback } from "../api.js";
import { t } from "../i18n.js";
import { entryText, kindLabel } from "../wording.js";
import { dateTime } from "../format.js";
import { ErrorNote, Loading, useQuery } from "../components.js";

// Each entry with the typed fields its line is written from (wording.js), in the
// user's language; `summary` (the API's English) only for a type without a template.
const ENTRY = `__typename id kind at actor position summary
  ... on RegisteredEntry { source }
  ... on DetailsChangedEntry { changed }
  ... on TaggedEntry { added removed }
  ... on PurchaseEntry { orderId total currency totalCny }
  ... on TouchEntry { channel direction }
  ... on NeedEntry { needId }
  ... on ComplaintFiledEntry { category severity }
  ... on ComplaintEscalatedEntry { automatic }
  ... on ComplaintAssignedEntry { assignee }
  ... on ComplaintResolvedEntry { satisfaction }
  ... on StageMoveEntry { from to }
  ... on LifecycleChangeEntry { fromStage toStage fromTier toTier }
  ... on SurveyEntry { surveyId score }
  ... on ConsentEntry { purpose channel granted }
  ... on OwnerChangeEntry { owner previousOwner rule }
  ... on MergeEntry { survivorId duplicateId }
  ... on TaskEntry { taskKind status dueAt }
  ... on CustomFieldsEntry { changes { key } }`;
const TIMELINE = `query Timeline($id: ID!, $atLeast: Int) {
  customer(id: $id, atLeast: $atLeast) { id timeline(first: 50) {
    edges { node { ${ENTRY} } }
  } }
}`;
const WITHOUT = `query NoTimeline($id: ID!, $atLeast: Int) { customer(id: $id, atLeast: $atLeast) { id } }`;

export function Timeline({ id, version, stamp }) {
  const { data, error, loading } = useQuery(
    () => gqlWithFallback(TIMELINE, WITHOUT, { id, atLeast: stamp }), [id, version, stamp]);
  let body;
  if (error) body = html`<${ErrorNote} error=${error} />`;
  else if (!data) body = html`<${Loading} />`;
  else if (!data.full) body = html`<p class="notice">${t("timelineMissing")}</p>`;
  else {
    const entries = data.data.customer?.timeline.edges.map((e) => e.node) ?? [];
    body = html`<ol id="timeline" aria-busy=${loading}>
      ${entries.map((e) => html`<li data-kind=${e.kind}>
        <time datetime=${e.at}>${dateTime(e.at)}</time> <span class="tag">${kindLabel(e.kind)}</span>
        <span class="entry">${entryText(e, id)}</span> <small>${e.actor ?? ""}</small></li>`)}
    </ol>`;
  }
  return html`<section aria-labelledby="timeline-title" class="card wide">
    <h2 id="timeline-title">${t("timeline")}</h2>${body}
  </section>`;
}
