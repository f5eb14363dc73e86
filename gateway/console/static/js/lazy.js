// Screens whose code loads on first use (a dynamic import), so the first screen waits
// only for its own modules; `preloadScreens()` fetches the rest when the browser is idle
// after the first screen, so moving to another screen rarely waits at all.
import { html, useEffect, useState } from "./ui.js";
import { Loading } from "./components.js";

const screens = [];

// `load` imports the module, `name` is the component it exports.
export function lazy(load, name) {
  let component = null;
  let pending = null;
  const loadOnce = () => (pending ||= load().then((module) => (component = module[name])));
  function Lazy(props) {
    const [, setLoaded] = useState(component !== null);
    useEffect(() => {
      if (!component) loadOnce().then(() => setLoaded(true));
    }, []);
    return component ? html`<${component} ...${props} />` : html`<${Loading} />`;
  }
  screens.push(loadOnce);
  return Lazy;
}

export function preloadScreens() {
  const idle = window.requestIdleCallback || ((run) => setTimeout(run, 200));
  idle(() => screens.forEach((loadOnce) => loadOnce()), { timeout: 2000 });
}
