// Teams: the organisation's departments, their teams and members, and the lead-assignment
// rules (`organisation`); for admin, the forms that define them. Managers and compliance
// read it only. A gateway without `Query.organisation` still serves the forms, and the
// screen says what is missing.
import { html } from "../ui.js";
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { can } from "../roles.js";
import { ErrorNote, Loading, useQuery } from "../components.js";
import { ORGANISATION_FORMS } from "../forms-spec.js";
import { CommandForm } from "./forms.js";

const ORGANISATION = `query Organisation {
  organisation {
    departments { name teams { name department members } }
    rules { rule team region source capacity open }
  }
}`;

function Departments({ departments }) {
  if (departments.length === 0) return html`<p>${t("nothing")}</p>`;
  // Labelled by name, not by id: a department's name may hold spaces.
  return departments.map((d) => html`<section class="card wide" data-department=${d.name}
      aria-label="${t("department")}: ${d.name}">
    <h2>${t("department")}: ${d.name}</h2>
    ${d.teams.length === 0 ? html`<p>${t("noTeams")}</p>` : html`<table class="list">
      <thead><tr><th scope="col">${t("team")}</th><th scope="col">${t("members")}</th></tr></thead>
      <tbody>${d.teams.map((team) => html`<tr data-team=${team.name}>
        <td>${team.name}</td>
        <td>${team.members.length === 0 ? "—"
          : team.members.map((m) => html`<span class="tag" data-member=${m}>${m}</span>`)}</td>
      </tr>`)}</tbody>
    </table>`}
  </section>`);
}

function Rules({ rules }) {
  return html`<section class="card wide" aria-labelledby="rules-title">
    <h2 id="rules-title">${t("assignmentRules")}</h2>
    <p><small>${t("rulesHint")}</small></p>
    ${rules.length === 0 ? html`<p>${t("nothing")}</p>` : html`<table class="list" id="rules">
      <thead><tr><th scope="col">${t("ruleName")}</th><th scope="col">${t("team")}</th>
        <th scope="col">${t("region")}</th><th scope="col">${t("source")}</th>
        <th scope="col">${t("capacity")}</th><th scope="col">${t("openLeads")}</th></tr></thead>
      <tbody>${rules.map((r) => html`<tr data-rule=${r.rule}>
        <td>${r.rule}</td><td>${r.team}</td><td>${r.region ?? t("anyValue")}</td>
        <td>${r.source ?? t("anyValue")}</td>
        <td class="number">${r.capacity ?? t("unlimited")}</td>
        <td class="number">${r.open}</td></tr>`)}</tbody>
    </table>`}
  </section>`;
}

export function Teams({ session }) {
  const { data, error, reload } = useQuery(() => gql(ORGANISATION), []);
  const forms = ORGANISATION_FORMS.filter((spec) => can(session, spec.permission));
  let body;
  // An older gateway: no organisation to read, but the admin's forms still work.
  if (error?.unknownField) body = html`<p class="notice" role="status">${t("organisationMissing")}</p>`;
  else if (error) body = html`<${ErrorNote} error=${error} />`;
  else if (!data) body = html`<${Loading} />`;
  else {
    body = html`<div class="grid" id="organisation">
      <${Departments} departments=${data.organisation.departments} />
      <${Rules} rules=${data.organisation.rules} />
    </div>`;
  }
  return html`<section aria-labelledby="teams-title">
    <h1 id="teams-title">${t("teams")}</h1>
    ${body}
    ${forms.length > 0 && html`<h2 class="organisation-forms-title">${t("organisationForms")}</h2>
      <div class="grid organisation-forms" id="organisation-forms">
        ${forms.map((spec) => html`<${CommandForm} key=${spec.name} spec=${spec}
          onSaved=${reload} />`)}
      </div>`}
  </section>`;
}
