"""The web console: a static single-page client of the GraphQL API, served at `/`.

Everything the browser loads comes from this package (`static/`, with the vendored
Preact + htm, graphql-ws and GraphiQL files listed in `static/vendor/README.md`), so the
console and GraphiQL work with no internet access and no Node.js. The console holds no
rule of its own: it reads the role from the token only to hide menus the API would refuse.

- `/` and `/index.html`: the console page;
- `/console/config.json`: what the page needs to know of the deployment (time zone);
- `/static/...`: the console's modules, styles and vendored files.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from projections.business_time import DEFAULT_TIMEZONE

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"
CONFIG_PATH = "/console/config.json"


def vendor_url(name: str) -> str:
    """The URL of a vendored file (`static/vendor/NAME`)."""
    return f"{STATIC_PATH}/vendor/{name}"


def console_routes(
    timezone: str | None = None, *, graphql_path: str = "/graphql"
) -> list[BaseRoute]:
    """The console's routes; `timezone` (IANA name) is how dates are shown."""
    config = {"timeZone": timezone or DEFAULT_TIMEZONE, "graphqlPath": graphql_path}

    async def index(request: Request) -> FileResponse:
        # no-cache: a new release's page must not pair with old cached modules.
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def console_config(request: Request) -> JSONResponse:
        return JSONResponse(config)

    return [
        Route("/", index, methods=["GET"], name="console"),
        Route("/index.html", index, methods=["GET"]),
        Route(CONFIG_PATH, console_config, methods=["GET"], name="console-config"),
        Mount(STATIC_PATH, app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
