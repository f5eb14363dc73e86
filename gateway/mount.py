"""The GraphQL routes for `gateway.app.create_app`, built from the platform settings.

    def routes(settings):
        return [health_route(settings), *graphql_routes(settings)]

Without a database URL, master key or JWT secret (which `crm gateway` fills in), no
GraphQL route is served and `/healthz` keeps saying so.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.routing import BaseRoute

from gateway.deps import GatewayDeps, Limits
from gateway.graphql_app import GraphQLApp, create_graphql_app
from gateway.settings import GatewaySettings


def graphql_app(settings: GatewaySettings) -> GraphQLApp | None:
    """The GraphQL app (its deps hold the read pool `/healthz` checks), or None."""
    if not (settings.database_url and settings.master_key and settings.jwt_secret):
        return None
    # Settings objects without the knob (older callers, tests) keep the default cap.
    days = getattr(settings, "max_token_ttl_days", Limits.max_token_lifetime.days)
    limits = Limits(max_token_lifetime=timedelta(days=days))
    deps = GatewayDeps.open(settings.database_url, master_key=settings.master_key, limits=limits)
    return create_graphql_app(
        deps,
        jwt_secret=settings.jwt_secret,
        production=settings.production,
        kafka_bootstrap=settings.kafka_bootstrap,
        topic=settings.kafka_topic,
    )


def graphql_routes(settings: GatewaySettings) -> list[BaseRoute]:
    graphql = graphql_app(settings)
    return graphql.routes if graphql is not None else []
