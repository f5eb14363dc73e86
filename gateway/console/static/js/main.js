// The console's shell: sign-in, the menu for the signed-in role, and the current screen.
import { html, render, useEffect, useState } from "./ui.js";
import { loadConfig } from "./config.js";
import { currentSession, onSessionChange, signIn, signOut, storedToken } from "./session.js";
import { label, language, onLanguageChange, setLanguage, t } from "./i18n.js";
import { can } from "./roles.js";
import { useRoute, useScreenFocus } from "./router.js";
import { answeredAhead, closeLive, whoIs } from "./api.js";
// Runs first when the page's async copy of it has not run yet, so the list's first
// query is always sent ahead, and sent once.
import "./first-query.js";
import { lazy, preloadScreens } from "./lazy.js";
import { CustomerList } from "./screens/customers.js";
import { Reminders } from "./reminders.js";
import { FORMS } from "./forms-spec.js";
import { Forbidden } from "./components.js";

// Only the first screen's code is imported up front (docs/console.md, "Speed").
const Profile = lazy(() => import("./screens/profile.js"), "Profile");
const Board = lazy(() => import("./screens/board.js"), "Board");
const Complaints = lazy(() => import("./screens/complaints.js"), "Complaints");
const Forms = lazy(() => import("./screens/forms.js"), "Forms");
const Dashboard = lazy(() => import("./screens/dashboard.js"), "Dashboard");
const Compliance = lazy(() => import("./screens/compliance.js"), "Compliance");
const MyTasks = lazy(() => import("./screens/tasks.js"), "MyTasks");
const Teams = lazy(() => import("./screens/teams.js"), "Teams");

const SCREENS = [
  { name: "customers", show: () => true },
  { name: "board", show: () => true },
  { name: "myTasks", show: (s) => can(s, "myTasks") },
  { name: "complaintQueue", show: (s) => can(s, "complaintQueue") },
  { name: "forms", show: (s) => FORMS.some((spec) => can(s, spec.permission)) },
  { name: "dashboard", show: (s) => can(s, "analytics") },
  { name: "compliance", show: (s) => can(s, "audit") },
  { name: "teams", show: (s) => can(s, "organisation") },
];

// The API says who the token is (`viewer`) before anything is stored: a token it refuses
// (expired, another audience, an unknown key) is shown with its reason and not kept.
function SignIn() {
  const [token, setToken] = useState(() => storedToken() || "");
  const [refusal, setRefusal] = useState(null);
  const [busy, setBusy] = useState(false);
  const attempt = async (candidate) => {
    setBusy(true);
    setRefusal(null);
    try {
      signIn(candidate, await whoIs(candidate));
    } catch (error) {
      signOut(); // nothing of a refused token stays behind
      setRefusal(error);
      setBusy(false);
    }
  };
  // A token stored without its viewer (typed into the GraphiQL page): asked about once.
  useEffect(() => {
    if (token) attempt(token);
  }, []);
  const submit = (event) => {
    event.preventDefault();
    attempt(token.trim());
  };
  return html`<main class="signin">
    <h1>${t("appName")}</h1>
    <form onSubmit=${submit} aria-label=${t("signIn")}>
      <label for="token">${t("token")}</label>
      <textarea id="token" rows="4" autocomplete="off" spellcheck="false"
        placeholder=${t("tokenHint")} value=${token}
        onInput=${(e) => setToken(e.target.value)}></textarea>
      ${refusal && html`<p class="error" role="alert" id="signin-error">${t("badToken")}
        <code>${refusal.reason || refusal.code || "ERROR"}</code> ${refusal.message}</p>`}
      <button type="submit" disabled=${busy}>${t("signIn")}</button>
    </form>
    <${LanguagePicker} />
  </main>`;
}

function LanguagePicker() {
  return html`<span class="language">
    <label for="language">${t("language")}</label>
    <select id="language" value=${language()} onChange=${(e) => setLanguage(e.target.value)}>
      <option value="zh">中文</option>
      <option value="en">English</option>
    </select>
  </span>`;
}

function Menu({ session, screen }) {
  return html`<header>
    <strong>${t("appName")}</strong>
    <nav aria-label=${t("appName")}>
      ${SCREENS.filter((s) => s.show(session)).map(
        (s) => html`<a href="#/${s.name}" id="nav-${s.name}"
          aria-current=${screen === s.name ? "page" : undefined}>${t(s.name)}</a>`,
      )}
    </nav>
    <span class="who">${t("signedInAs", { subject: session.subject, role: label("role", session.role) })}</span>
    <${LanguagePicker} />
    <button type="button" onClick=${() => { closeLive(); signOut(); }}>${t("signOut")}</button>
  </header>`;
}

function Screen({ session, route }) {
  const allowed = SCREENS.find((s) => s.name === route.screen);
  if (allowed && !allowed.show(session)) return html`<${Forbidden} />`;
  switch (route.screen) {
    case "customers":
      return route.id ? html`<${Profile} session=${session} id=${route.id} />`
        : html`<${CustomerList} session=${session} />`;
    case "board":
      return html`<${Board} session=${session} />`;
    case "myTasks":
      return html`<${MyTasks} session=${session} />`;
    case "complaintQueue":
      return html`<${Complaints} session=${session} />`;
    case "forms":
      return html`<${Forms} session=${session} form=${route.id} />`;
    case "dashboard":
      return html`<${Dashboard} />`;
    case "compliance":
      return html`<${Compliance} session=${session} id=${route.id} />`;
    case "teams":
      return html`<${Teams} session=${session} />`;
    default:
      return html`<p>${t("notFound")}</p>`;
  }
}

function App() {
  const [, setTick] = useState(0);
  const route = useRoute();
  useScreenFocus(route, "screen");
  useEffect(() => {
    const rerender = () => setTick((n) => n + 1);
    const stops = [onSessionChange(rerender), onLanguageChange(rerender)];
    return () => stops.forEach((stop) => stop());
  }, []);
  const session = currentSession();
  if (!session) return html`<${SignIn} />`;
  return html`<${Menu} session=${session} screen=${route.screen} />
    ${can(session, "myTasks") && html`<${Reminders} key=${session.token} session=${session} />`}
    <main id="screen" tabindex="-1" key=${language()}><${Screen} session=${session} route=${route} /></main>`;
}

performance.mark("crm:main-start"); // every module fetched and evaluated (bench)
await loadConfig();
document.documentElement.lang = language() === "zh" ? "zh-CN" : "en";
const root = document.getElementById("app");
root.textContent = ""; // the "…" shown while modules load
render(html`<${App} />`, root);
performance.mark("crm:shell-rendered");
document.body.dataset.ready = "true";
// The other screens' code, once the first screen's data is in: not competing with it.
answeredAhead().then(preloadScreens);
