// Hash routes: "#/customers", "#/customers/ID", "#/board", "#/forms/register",
// "#/dashboard", "#/compliance/ID". The hash keeps the console one static page.
import { useEffect, useRef, useState } from "./ui.js";
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

// After a route change the new screen takes the focus (it was left on <body>): keyboard
// and screen-reader users start on the screen they went to, as after a page load.
export function useScreenFocus(route, elementId) {
  const shown = useRef(null);
  useEffect(() => {
    const key = `${route.screen}/${route.id}`;
    if (shown.current !== null && shown.current !== key) {
      document.getElementById(elementId)?.focus();
    }
    shown.current = key;
  }, [route.screen, route.id]);
}
