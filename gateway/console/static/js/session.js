// The signed-in user: the bearer token lives in this tab's sessionStorage only.
// The role read from the token's claims only shapes the UI (menus, hints); every rule
// is enforced by the API, which verifies the token on each request.
const KEY = "crm-token";
const listeners = new Set();

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

export function currentSession() {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  const claims = claimsOf(token);
  if (!claims) return null;
  return { token, subject: claims.sub, role: claims.role, expiresAt: claims.exp };
}

export function signIn(token) {
  const clean = token.trim();
  if (!claimsOf(clean)) return false;
  sessionStorage.setItem(KEY, clean);
  listeners.forEach((notify) => notify());
  return true;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  listeners.forEach((notify) => notify());
}

export function onSessionChange(notify) {
  listeners.add(notify);
  return () => listeners.delete(notify);
}
