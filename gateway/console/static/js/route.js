// Parsing the hash route, without the UI library: js/first-query.js needs it early.
export function parseRoute(hash = window.location.hash) {
  const [screen = "customers", id = null] = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  return { screen, id: id ? decodeURIComponent(id) : null };
}
