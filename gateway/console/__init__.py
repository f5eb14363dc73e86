"""The web console: a static single-page client of the GraphQL API, served at `/`.

Everything the browser loads comes from this package (`static/`, with the vendored
Preact + htm, graphql-ws and GraphiQL files listed in `static/vendor/README.md`), so the
console and GraphiQL work with no internet access and no Node.js. The console holds no
rule of its own: it reads the role from the token only to hide menus the API would refuse.

- `/` and `/index.html`: the console page (`gateway.console.page`: versioned URLs, an
  import map, modulepreload links from the import graph, the settings inline);
- `/console/config.json`: what the page needs to know of the deployment (time zone);
- `/favicon.ico`: the console's icon (`static/favicon.svg`), which browsers ask for on any
  page without an icon link (GraphiQL's), a 404 in their console otherwise;
- `/static/...`: the console's modules, styles and vendored files, from memory, gzipped,
  cached for a year under their versioned URLs (`gateway.console.assets`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from gateway.console.assets import REVALIDATE, AssetStore
from gateway.console.page import render_page
from projections.business_time import DEFAULT_TIMEZONE

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"
CONFIG_PATH = "/console/config.json"
ICON = "favicon.svg"


def vendor_url(name: str) -> str:
    """The URL of a vendored file (`static/vendor/NAME`)."""
    return f"{STATIC_PATH}/vendor/{name}"


def console_routes(
    timezone: str | None = None, *, graphql_path: str = "/graphql"
) -> list[BaseRoute]:
    """The console's routes; `timezone` (IANA name) is how dates are shown."""
    config = {"timeZone": timezone or DEFAULT_TIMEZONE, "graphqlPath": graphql_path}
    store = AssetStore(STATIC_DIR, STATIC_PATH)
    page = render_page((STATIC_DIR / "index.html").read_text(), store, config)
    page_etag = '"' + hashlib.sha256(page.encode()).hexdigest()[:16] + '"'

    async def index(request: Request) -> Response:
        # no-cache: the page names the versioned URLs of this release; revalidated each
        # visit (304 when unchanged), it never pairs a new release with old modules.
        headers = {"Cache-Control": REVALIDATE, "ETag": page_etag}
        if page_etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return HTMLResponse(page, headers=headers)

    async def console_config(request: Request) -> JSONResponse:
        return JSONResponse(config)

    async def icon(request: Request) -> Response:
        # An SVG under the .ico name: browsers go by the media type, not the name.
        asset = store.assets[ICON]
        headers = {"Cache-Control": "public, max-age=86400", "ETag": asset.etag}
        return Response(asset.body, headers=headers, media_type=asset.media_type)

    return [
        Route("/", index, methods=["GET"], name="console"),
        Route("/index.html", index, methods=["GET"]),
        Route(CONFIG_PATH, console_config, methods=["GET"], name="console-config"),
        Route("/favicon.ico", icon, methods=["GET"], name="console-icon"),
        Mount(STATIC_PATH, app=store, name="static"),
    ]
