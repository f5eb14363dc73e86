"""The GraphiQL page served at /graphql to browsers (not in production mode).

A token field at the top holds the bearer token; it is kept in the tab's
sessionStorage (never in the URL) and sent as ``Authorization: Bearer …`` with every
request, and in ``connection_init`` for subscriptions over WebSocket.

React, ReactDOM and GraphiQL load from the gateway itself (`/static/vendor/`, files
vendored in `gateway/console/static/vendor`), never from a CDN: the page works offline.
"""

from __future__ import annotations

SAMPLE_QUERY = """# Paste a token above (make demo prints one), then run this query.
query FirstCustomers {
  customers(first: 5) {
    totalCount
    edges {
      node { id name email tier lifecycleStage stage purchases { count total } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>CRM GraphQL</title>
<style>
  body { margin: 0; height: 100vh; display: flex; flex-direction: column; font-family: sans-serif; }
  #bar { display: flex; gap: 8px; align-items: center; padding: 6px 10px; background: #f3f3f3;
         border-bottom: 1px solid #ddd; font-size: 13px; }
  #bar input { flex: 1; font-family: monospace; font-size: 12px; padding: 4px; }
  #graphiql { flex: 1; min-height: 0; }
</style>
<script src="/static/vendor/react-18.2.0.production.min.js"></script>
<script src="/static/vendor/react-dom-18.2.0.production.min.js"></script>
<link rel="stylesheet" href="/static/vendor/graphiql-3.8.3.min.css">
</head>
<body>
<div id="bar">
  <label for="token">Bearer token</label>
  <input id="token" type="password" autocomplete="off"
         placeholder="paste a token from `crm token --role admin` or `make demo`">
</div>
<div id="graphiql">Loading…</div>
<script src="/static/vendor/graphiql-3.8.3.min.js"></script>
<script>
"""

_SCRIPT = """
  const field = document.getElementById("token");
  field.value = sessionStorage.getItem("crm-token") || "";
  field.addEventListener("input", () => sessionStorage.setItem("crm-token", field.value.trim()));
  const auth = () => field.value.trim() ? { Authorization: "Bearer " + field.value.trim() } : {};
  const url = window.location.href.split("?")[0].split("#")[0];
  const wsUrl = url.replace(/^http/, "ws");
  const base = GraphiQL.createFetcher({ url, subscriptionUrl: wsUrl,
                                        wsConnectionParams: () => auth() });
  const fetcher = (params, options) => {
    const given = options || {};
    return base(params, { ...given, headers: { ...auth(), ...(given.headers || {}) } });
  };
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: SAMPLE,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    })
  );
</script>
</body>
</html>
"""


def graphiql_html() -> str:
    import json

    return _HEAD + f"  const SAMPLE = {json.dumps(SAMPLE_QUERY)};" + _SCRIPT
