// Sends the first screen's query as soon as this small module graph has loaded, not
// after every module of the console has loaded and rendered: the answer is then ready,
// or on its way, when the customer list asks for it (`prime` in api.js). The page loads
// this module `async`, apart from main.js (which imports it too: whichever runs first).
import { loadConfig } from "./config.js";
import { prime } from "./api.js";
import { parseRoute } from "./route.js";
import { currentSession } from "./session.js";
import { LIST, firstPageVariables } from "./screens/customers-query.js";

await loadConfig();
const route = parseRoute();
if (currentSession() && route.screen === "customers" && !route.id) {
  prime(LIST, firstPageVariables());
  performance.mark("crm:first-query-sent");
}
