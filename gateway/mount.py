"""The GraphQL routes for `gateway.app.create_app`, over deps built by the caller.

    def routes(settings, deps):
        return [health_route(settings), *graphql_routes(settings, deps)]

`crm gateway` builds the deps in the composition root (`bootstrap.gateway_deps_for`).
Without deps or a JWT secret no GraphQL route is served and `/healthz` keeps saying so.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from gateway.deps import GatewayDeps
from gateway.graphql_app import GraphQLApp, create_graphql_app
from gateway.settings import GatewaySettings


def graphql_app(settings: GatewaySettings, deps: GatewayDeps | None) -> GraphQLApp | None:
    """The GraphQL app over `deps` (they hold the read pool `/healthz` checks), or None."""
    if deps is None or not settings.jwt_secret:
        return None
    return create_graphql_app(
        deps,
        jwt_secret=settings.jwt_secret,
        production=settings.production,
        kafka_bootstrap=settings.kafka_bootstrap,
        topic=settings.kafka_topic,
        kafka_security=settings.kafka_security,
        identity=settings.identity_provider,
    )


def graphql_routes(settings: GatewaySettings, deps: GatewayDeps | None) -> list[BaseRoute]:
    graphql = graphql_app(settings, deps)
    return graphql.routes if graphql is not None else []
