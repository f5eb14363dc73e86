// The GraphQL client of the console: POST for queries and mutations, graphql-transport-ws
// for subscriptions. Errors keep the API's shape: `code` and `field` from `extensions`.
import { config } from "./config.js";
import { currentSession, signOut } from "./session.js";

export class ApiError extends Error {
  constructor(errors, data = null) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
    this.data = data;
    this.code = errors[0]?.extensions?.code || "ERROR";
    // The finer code of a refused token (TOKEN_EXPIRED, TOKEN_WRONG_AUDIENCE, …).
    this.reason = errors[0]?.extensions?.reason || null;
  }

  // Field name (as in the GraphQL input, e.g. "email", "lines[0].quantity") -> message.
  get fieldErrors() {
    const byField = {};
    for (const error of this.errors) {
      const field = error.extensions?.field;
      if (field && !byField[field]) byField[field] = error;
    }
    return byField;
  }

  // The schema lacks a field this query asks for (an older gateway): callers fall back.
  get unknownField() {
    return this.errors.some((e) => /Cannot query field/.test(e.message));
  }
}

function authorization() {
  const session = currentSession();
  return session ? { Authorization: `Bearer ${session.token}` } : {};
}

// Requests sent ahead (`prime`), by query and variables; each answers one `gql` call.
const primed = new Map();
const sentAhead = [];

function requestKey(query, variables) {
  const canonical = (value) =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical(value[k])]))
      : value;
  return JSON.stringify([query, canonical(variables)]);
}

// Sends `query` now; the first `gql` with the same query and variables gets its answer.
export function prime(query, variables = {}) {
  const answer = send(query, variables);
  answer.catch(() => {}); // the caller of `gql` sees the error, if one ever asks
  primed.set(requestKey(query, variables), answer);
  sentAhead.push(answer);
}

// Settles once every request sent ahead has been answered (or failed).
export function answeredAhead() {
  return Promise.allSettled(sentAhead);
}

export function gql(query, variables = {}) {
  const key = requestKey(query, variables);
  const answer = primed.get(key);
  if (answer) {
    primed.delete(key);
    return answer;
  }
  return send(query, variables);
}

function post(query, variables, headers) {
  return fetch(config.graphqlPath, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
}

async function send(query, variables) {
  const response = await post(query, variables, authorization());
  if (response.status === 401) {
    signOut();
    throw new ApiError([{ message: "Sign in again", extensions: { code: "UNAUTHENTICATED" } }]);
  }
  const body = await response.json();
  if (body.errors?.length) throw new ApiError(body.errors, body.data);
  return body.data;
}

const VIEWER = "query Viewer { viewer { subject role team department expiresAt } }";

// Who `token` is, as the API verifies and reads it (sign-in asks before storing anything).
// A refusal throws the API's own message and code (a 401's `reason`, e.g. TOKEN_EXPIRED),
// and signs nobody out: the token was never stored.
export async function whoIs(token) {
  const response = await post(VIEWER, {}, { Authorization: `Bearer ${token}` });
  const body = await response.json().catch(() => ({}));
  if (body.errors?.length) throw new ApiError(body.errors, body.data);
  if (!body.data?.viewer) throw new ApiError([{ message: `HTTP ${response.status}` }]);
  return body.data.viewer;
}

// `primary` asks for newer fields (timeline, field changes); `fallback` is the same
// question without them, for a gateway that does not have them yet.
export async function gqlWithFallback(primary, fallback, variables) {
  try {
    return { data: await gql(primary, variables), full: true };
  } catch (error) {
    if (!(error instanceof ApiError) || !error.unknownField) throw error;
    return { data: await gql(fallback, variables), full: false };
  }
}

let socket = null;
let liveLibrary = null;

// graphql-ws (a UMD file: it sets `globalThis.graphqlWs`) loads with the first
// subscription; the first screen subscribes to nothing and does not wait for it.
function loadLiveLibrary() {
  liveLibrary ||= import("../vendor/graphql-ws-5.16.0.min.js");
  return liveLibrary;
}

function liveClient() {
  if (!socket) {
    const url = new URL(config.graphqlPath, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    socket = globalThis.graphqlWs.createClient({
      url: url.href,
      connectionParams: () => authorization(),
      retryAttempts: 5,
    });
  }
  return socket;
}

// Calls `onEvent(data)` for every result; returns the function that stops listening.
export function subscribe(query, variables, onEvent, onError = () => {}) {
  let stop = null;
  let stopped = false;
  loadLiveLibrary().then(() => {
    if (stopped) return;
    stop = liveClient().subscribe(
      { query, variables },
      { next: (result) => result.data && onEvent(result.data), error: onError, complete: () => {} },
    );
  }, onError);
  return () => {
    stopped = true;
    stop?.();
  };
}

// A subscription that outlives its errors: the gateway answers UNAVAILABLE while its
// broker consumer starts (slowly on a loaded machine) and drops a subscriber that fell
// behind. Subscribes again after a pause until the returned function stops it.
export function subscribeKeepingOn(query, variables, onEvent, pauseMs = 2000) {
  let stopped = false;
  let timer = null;
  let stop = () => {};
  const again = () => {
    if (!stopped) timer = setTimeout(start, pauseMs);
  };
  function start() {
    if (stopped) return;
    stop = liveClient().subscribe(
      { query, variables },
      { next: (result) => result.data && onEvent(result.data), error: again, complete: again },
    );
  }
  // The library too: a screen that never subscribed (the list, the board) has not loaded it.
  loadLiveLibrary().then(start);
  return () => {
    stopped = true;
    clearTimeout(timer);
    stop();
  };
}

export function closeLive() {
  socket?.dispose();
  socket = null;
}
