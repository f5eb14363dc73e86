// The pipeline board: one column per stage. Drag a card to another column, or use the
// card's "move to stage" control (keyboard), to call moveStage; the API decides whether
// the move is allowed and its coded error is shown next to the card. An erased customer's
// card offers no move, as its profile offers no form. After a move with the keyboard the
// card is drawn anew in its new column: the focus goes to its control there.
import { html, useLayoutEffect, useState } from "../ui.js";
import { gql } from "../api.js";
import { enumValues, label, t } from "../i18n.js";
import { can } from "../roles.js";
import { ErrorNote, Loading, Personal, useQuery } from "../components.js";

const PER_COLUMN = 15;
const STAGES = enumValues("stage");
// One request for every column: an alias per stage.
const BOARD = `query Board {
${STAGES.map((stage) => `  ${stage}: customers(filter: {stage: ${stage}}, first: ${PER_COLUMN},
      orderBy: {field: UPDATED_AT, direction: DESC}) {
    totalCount edges { node { id name company owner tier forgotten version } } }`).join("\n")}
}`;
const MOVE = `mutation Move($input: MoveStageInput!) {
  moveStage(input: $input) { customer { id stage version } }
}`;

function Card({ c, stage, mayMove, error, onMove }) {
  const [to, setTo] = useState(stage);
  const [reason, setReason] = useState("");
  const fieldId = `move-${c.id}`;
  return html`<li class="board-card" draggable=${mayMove} data-customer=${c.id}
      onDragStart=${(e) => e.dataTransfer.setData("text/plain", c.id)}>
    <a href="#/customers/${c.id}"><${Personal} value=${c.name} customer=${c} /></a>
    <small>${c.company ?? ""} · ${label("tier", c.tier)}</small>
    ${mayMove && html`<form class="move" onSubmit=${(e) => { e.preventDefault(); onMove(c, to, reason); }}>
      <label for=${fieldId}>${t("moveTo")}</label>
      <select id=${fieldId} value=${to} onChange=${(e) => setTo(e.target.value)}>
        ${STAGES.map((s) => html`<option value=${s}>${label("stage", s)}</option>`)}
      </select>
      <label for="${fieldId}-reason">${t("reason")}</label>
      <input id="${fieldId}-reason" value=${reason} onInput=${(e) => setReason(e.target.value)} />
      <button type="submit">${t("move")}</button>
    </form>`}
    ${error && html`<${ErrorNote} error=${error} />`}
  </li>`;
}

export function Board({ session }) {
  const { data, error, reload } = useQuery(() => gql(BOARD), []);
  const [errors, setErrors] = useState({});
  const [refocus, setRefocus] = useState(null); // { id, stage } of a card moved by keyboard
  const mayMove = can(session, "moveStage");
  const masked = !can(session, "seePersonal");

  const move = async (customer, to, reason) => {
    setErrors((all) => ({ ...all, [customer.id]: null }));
    try {
      await gql(MOVE, { input: { customerId: customer.id, to, reason: reason || null } });
      reload();
      return true;
    } catch (failure) {
      setErrors((all) => ({ ...all, [customer.id]: failure }));
      return false;
    }
  };
  const moveByKeyboard = async (customer, to, reason) => {
    setRefocus(null);
    if (await move(customer, to, reason)) setRefocus({ id: customer.id, stage: to });
  };
  // Once the reloaded board has the card in its new column (the old card, and the focus
  // with it, are gone), its control there takes the focus, not <body>.
  useLayoutEffect(() => {
    if (!refocus || !data?.[refocus.stage].edges.some(({ node }) => node.id === refocus.id)) return;
    document.getElementById(`move-${refocus.id}`)?.focus();
    setRefocus(null);
  }, [data, refocus]);
  const cards = (stage) => data[stage].edges.map(({ node }) => ({ ...node, masked }));
  const drop = (stage) => (event) => {
    event.preventDefault();
    const id = event.dataTransfer.getData("text/plain");
    const customer = STAGES.flatMap(cards).find((c) => c.id === id);
    if (customer) move(customer, stage, "");
  };

  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<${Loading} />`;
  return html`<section aria-labelledby="board-title">
    <h1 id="board-title">${t("board")}</h1>
    ${mayMove && html`<p><small>${t("dragHint")}</small></p>`}
    <div class="board">
      ${STAGES.map((stage) => html`<section class="column" data-stage=${stage}
          aria-labelledby="col-${stage}" onDragOver=${(e) => e.preventDefault()} onDrop=${drop(stage)}>
        <h2 id="col-${stage}">${label("stage", stage)} <small>${data[stage].totalCount}</small></h2>
        <ul>${cards(stage).map((c) => html`<${Card} key=${c.id} c=${c} stage=${stage}
          mayMove=${mayMove && !c.forgotten} error=${errors[c.id]} onMove=${moveByKeyboard} />`)}</ul>
      </section>`)}
    </div>
  </section>`;
}
