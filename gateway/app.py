"""The gateway's starlette application.

`create_app(settings, deps=deps)` builds the app from a list of routes: `/healthz` (the
whole platform), `/livez` and `/readyz` (this process only: what an orchestrator probes),
`/metrics` and, given deps (built by `bootstrap.gateway_deps_for(settings)` in
`crm gateway`), the GraphQL API at `/graphql` (GraphiQL in a browser, WebSocket
subscriptions) and the web console at `/` (`gateway.console`, its files under `/static`).
`serving_status(app)` tells the process's heartbeat what the gateway really serves,
so the health answer stays honest if GraphQL could not be mounted.

The settings object is anything with the attributes of `GatewaySettings`: in practice
`ops.config.Settings`, passed in by `crm gateway` (the gateway does not import `ops`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gateway.db import ReadPool
from gateway.health import UP_STATUSES, check_database, platform_health
from gateway.logs import REQUEST_ID_HEADER
from gateway.settings import GatewaySettings

if TYPE_CHECKING:
    from gateway.deps import GatewayDeps

GRAPHQL_PATH = "/graphql"
HEALTH_PATH = "/healthz"
LIVE_PATH = "/livez"
READY_PATH = "/readyz"


def health_route(settings: GatewaySettings, reads: ReadPool | None = None) -> Route:
    """`reads`: the pool GraphQL reads use, so 200 means those reads work right now."""
    run_dir = settings.data_dir / "run"

    async def healthz(request: Request) -> JSONResponse:
        healthy, body = await platform_health(
            run_dir, settings.database_url, settings.kafka_bootstrap, reads
        )
        return JSONResponse(body, status_code=200 if healthy else 503)

    return Route(HEALTH_PATH, healthz, methods=["GET"], name="healthz")


def probe_routes(settings: GatewaySettings, reads: ReadPool | None = None) -> list[Route]:
    """This process's probes. Live: it answers HTTP (a wedged event loop does not).
    Ready: its read pool answers `SELECT 1`, so a request routed here can be served; the
    other parts of the platform are `/healthz`'s business, not a reason to take this
    gateway out of a load balancer."""

    async def livez(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "pid": os.getpid()})

    async def readyz(request: Request) -> JSONResponse:
        database = await check_database(settings.database_url, reads)
        ready = database.get("status") in UP_STATUSES
        body = {
            "status": "ok" if ready else "unavailable",
            "pid": os.getpid(),
            "database": database,
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    return [
        Route(LIVE_PATH, livez, methods=["GET"], name="livez"),
        Route(READY_PATH, readyz, methods=["GET"], name="readyz"),
    ]


def routes(settings: GatewaySettings, deps: GatewayDeps | None = None) -> list[BaseRoute]:
    """Every route the gateway serves. GraphQL is added here when there are deps."""
    from gateway.console import console_routes
    from gateway.metrics import metrics_route
    from gateway.mount import graphql_app

    graphql = graphql_app(settings, deps)
    reads = graphql.deps.reads if graphql is not None else None
    # The console is a client of /graphql: served only where GraphQL is.
    console = console_routes(getattr(settings, "timezone", None)) if graphql is not None else []
    return [
        health_route(settings, reads),
        *probe_routes(settings, reads),
        metrics_route(settings.database_url),
        *(graphql.routes if graphql is not None else []),
        *console,
    ]


def create_app(
    settings: GatewaySettings,
    extra_routes: Sequence[BaseRoute] = (),
    *,
    deps: GatewayDeps | None = None,
) -> Starlette:
    app = Starlette(
        routes=[*routes(settings, deps), *extra_routes],
        middleware=cors_middleware(settings.cors_origins),
    )
    app.state.settings = settings
    return app


def cors_middleware(origins: Sequence[str]) -> list[Middleware]:
    """Browsers on these origins may call the API (none by default: same origin only).

    Bearer tokens, not cookies, so no credentials mode; the preflight is cached 10 min."""
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "accept", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER],
            max_age=600,
        )
    ]


def serving_status(app: Starlette) -> tuple[str, str]:
    """(status, detail) for the gateway's heartbeat: `idle` until GraphQL is served."""
    paths = {getattr(route, "path", None) for route in app.routes}
    if GRAPHQL_PATH in paths:
        return "ok", f"serving {GRAPHQL_PATH} and {HEALTH_PATH}"
    return "idle", f"serving {HEALTH_PATH}; not implemented yet: the GraphQL API at {GRAPHQL_PATH}"
