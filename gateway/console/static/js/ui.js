// The one import of the UI library: Preact with hooks, and htm for JSX-like templates
// without a build step (vendored, see /static/vendor/README.md).
export {
  html,
  render,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from "../vendor/htm-preact-3.1.1.mjs";
