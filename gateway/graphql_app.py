"""`create_graphql_app`: the GraphQL API as routes the gateway's starlette app mounts.

    deps = bootstrap.gateway_deps(database_url, key)  # in the caller: gateway never builds it
    graphql = create_graphql_app(deps, jwt_secret=secret, production=False,
                                 kafka_bootstrap="127.0.0.1:9092", topic="crm.events")
    app = create_app(settings, extra_routes=graphql.routes)

Production mode turns off introspection and the GraphiQL page. Without a Kafka
bootstrap the subscription answers UNAVAILABLE; everything else works.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from gateway.auth import IdentityProvider
from gateway.deps import GatewayDeps
from gateway.http import GatewayView
from gateway.live import LiveEvents
from gateway.schema import build_schema
from streams.kafka_clients import PLAINTEXT, KafkaSecurity
from streams.topic_cuts import current_on

GRAPHQL_PATH = "/graphql"


@dataclass
class GraphQLApp:
    """The ASGI view (HTTP and WebSocket) and the routes that serve it at `path`."""

    view: GatewayView
    deps: GatewayDeps
    path: str = GRAPHQL_PATH
    routes: list[BaseRoute] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.routes:
            self.routes = [
                Route(self.path, self.view, name="graphql"),
                WebSocketRoute(self.path, self.view, name="graphql-ws"),
            ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.view(scope, receive, send)

    async def aclose(self) -> None:
        """Stop the live-events consumer (subscriptions end); the deps stay open."""
        if self.deps.live is not None:
            await self.deps.live.close()


def create_graphql_app(
    deps: GatewayDeps,
    *,
    jwt_secret: str,
    production: bool,
    kafka_bootstrap: str | None = None,
    topic: str | None = None,
    kafka_security: KafkaSecurity = PLAINTEXT,
    identity: IdentityProvider | None = None,
    path: str = GRAPHQL_PATH,
) -> GraphQLApp:
    if not jwt_secret:
        raise ValueError("the gateway needs a JWT secret")
    if kafka_bootstrap and topic and deps.live is None:
        base, reads = topic, deps.reads

        async def current_topic() -> str:  # after `crm topic widen`, the wider topic
            return await reads.run(current_on, base)

        deps.live = LiveEvents(
            kafka_bootstrap,
            topic,
            kafka_security,
            current_topic,
            signing_key=deps.app.stream_signing_key,
        )
    schema = build_schema(deps.limits, production=production)
    view = GatewayView(
        schema, deps, jwt_secret=jwt_secret, production=production, identity=identity
    )
    return GraphQLApp(view=view, deps=deps, path=path)
