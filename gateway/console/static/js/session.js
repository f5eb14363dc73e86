// The signed-in user: the bearer token lives in this tab's sessionStorage only ("crm-token",
// shared with the GraphiQL page), and beside it who the API said the token is (`viewer`,
// asked at sign-in: api.js `whoIs`). The role is the gateway's reading of the token, never
// a claim decoded here: an identity provider may carry it under another claim or in a list
// (`roles: ["sales"]`), which only the gateway's verifier knows. The role only shapes the
// UI (menus, hints); every rule is enforced by the API, which verifies the token on each
// request.
const TOKEN = "crm-token";
const VIEWER = "crm-viewer";
const listeners = new Set();

export function storedToken() {
  return sessionStorage.getItem(TOKEN);
}

function storedViewer(token) {
  try {
    const viewer = JSON.parse(sessionStorage.getItem(VIEWER));
    // The viewer of another token (one typed into the GraphiQL page) says nothing of this one.
    return viewer?.token === token ? viewer : null;
  } catch {
    return null;
  }
}

// Null until the API has said who the stored token is (then the sign-in screen asks it).
export function currentSession() {
  const token = storedToken();
  const viewer = token && storedViewer(token);
  if (!viewer) return null;
  const { subject, role, team, department, expiresAt } = viewer;
  return { token, subject, role, team, department, expiresAt };
}

// `viewer`: the API's answer to `viewer` for this very token.
export function signIn(token, viewer) {
  sessionStorage.setItem(TOKEN, token);
  sessionStorage.setItem(VIEWER, JSON.stringify({ ...viewer, token }));
  listeners.forEach((notify) => notify());
}

export function signOut() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(VIEWER);
  listeners.forEach((notify) => notify());
}

export function onSessionChange(notify) {
  listeners.add(notify);
  return () => listeners.delete(notify);
}
