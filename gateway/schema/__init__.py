"""The GraphQL schema of the gateway: the contract (shared/contract.graphql) and more.

`build_schema` is the one place that assembles it, with the hardening extensions; the
served SDL is exported to schemas/schema.graphql (`python -m schemas.export_sdl`).
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from gateway.access import RecordAccess
from gateway.deps import Limits
from gateway.expansion import BoundedValidation
from gateway.hardening import (
    BoundedInput,
    ErrorPolicy,
    NamedOperation,
    StorableText,
    cost_limit,
)
from gateway.logs import GatewaySchema
from gateway.observe import ObserveOperations
from gateway.outcomes import ReportMutationOutcomes
from gateway.reported import ReportedErrors
from gateway.schema.execution import PlainLeavesExecution
from gateway.schema.mutation import Mutation
from gateway.schema.query import Query
from gateway.schema.scalars import SCALAR_MAP
from gateway.schema.subscription import Subscription
from gateway.schema.timeline import ENTRY_TYPES


def build_schema(limits: Limits | None = None, *, production: bool = False) -> strawberry.Schema:
    """The schema with depth, alias, token and cost limits, caches and error masking.

    `production` turns introspection and "Did you mean …?" suggestions off (GraphiQL
    is turned off by the HTTP layer).
    """
    limits = limits or Limits()
    extensions: list[Any] = [
        ObserveOperations,
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: ParserCache(maxsize=limits.cache_size),
        lambda: BoundedValidation(limits.cache_size, max_fields=limits.max_tokens),
        StorableText,
        NamedOperation,
        BoundedInput,
        QueryDepthLimiter(max_depth=limits.max_depth),
        MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        cost_limit(limits.max_cost, limits.max_page_size, limits.max_depth + 8),
        lambda: ErrorPolicy(suggestions=not production),
        ReportMutationOutcomes,
        ReportedErrors,
        RecordAccess,
    ]
    if production:
        extensions.append(DisableIntrospection)
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=ENTRY_TYPES,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        execution_context_class=PlainLeavesExecution,
    )


def sdl() -> str:
    """The schema as served, in SDL (what schemas/schema.graphql must hold)."""
    return build_schema().as_str() + "\n"
