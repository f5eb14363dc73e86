// Hash routes: "#/customers", "#/customers/ID", "#/board", "#/forms/register",
// "#/dashboard", "#/compliance/ID". The hash keeps the console one static page.
import { useEffect, useState } from "./ui.js";

export function parseRoute(hash = window.location.hash) {
  const [screen = "customers", id = null] = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  return { screen, id: id ? decodeURIComponent(id) : null };
}

export function go(screen, id = null) {
  window.location.hash = id ? `#/${screen}/${encodeURIComponent(id)}` : `#/${screen}`;
}

export function useRoute() {
  const [route, setRoute] = useState(parseRoute());
  useEffect(() => {
    const changed = () => setRoute(parseRoute());
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}
