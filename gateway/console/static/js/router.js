// Hash routes: "#/customers", "#/customers/ID", "#/board", "#/forms/register",
// "#/dashboard", "#/compliance/ID". The hash keeps the console one static page.
import { useEffect, useState } from "./ui.js";
import { parseRoute } from "./route.js";

export { parseRoute };

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
