"""Plain leaves without graphql-core's per-field machinery.

A list page is ~200 fields, most of them plain leaves: an attribute of the view read
as it is (`Customer.of` fills them once per row) and serialized as a scalar or enum.
graphql-core still builds a resolve info, calls strawberry's resolver wrapper and
walks `complete_value` for each one. `PlainLeavesExecution` answers such a field with
the attribute and its type's `coerce_output_value`, the two calls that path ends in:
142 of a list page's 206 fields, ~10% of the page's CPU on the event loop (bench/NOTES.md,
"CPU per request, per part").

Only where nothing else could run: a strawberry field with no resolver, no field
extension and no arguments, no schema extension that wraps resolvers (middleware), and
the config's default `getattr`. Anything else goes the whole way, and so does any value
the short path does not answer (a null where none may be, a value its type refuses): the
full path then runs from the start, with its error and its location, so an answer never
differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    get_nullable_type,
    is_non_null_type,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


@dataclass(frozen=True, slots=True)
class PlainLeaf:
    attribute: str
    coerce: Any  # the leaf type's `coerce_output_value`
    nullable: bool


_PLANS: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], PlainLeaf | None]] = (
    WeakKeyDictionary()
)


def plain_leaf(field: GraphQLField) -> PlainLeaf | None:
    """What answers `field` directly, or None where it needs the full path."""
    if not getattr(field.resolve, "_is_default", False) or field.args:
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or definition.base_resolver:
        return None
    if definition.extensions or definition.default_resolver is not getattr:
        return None
    leaf = get_nullable_type(field.type)
    if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
        return None
    nullable = not is_non_null_type(field.type)
    return PlainLeaf(definition.python_name, leaf.coerce_output_value, nullable)


class PlainLeavesExecution(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with plain leaves answered directly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        self._direct = manager is None or not manager.middlewares
        self._plans = _PLANS.setdefault(self.schema, {})

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        fields: Any,
        path: Path,
        *rest: Any,
    ) -> Any:
        # `fields`: graphql-core 3.3's field details (3.2's field nodes); `rest`: 3.3's
        # position context
        if self._direct:
            first = fields[0]
            node = getattr(first, "node", first)
            key = (parent_type.name, node.name.value)
            try:
                plan = self._plans[key]
            except KeyError:
                field = self.schema.get_field(parent_type, node.name.value)
                plan = self._plans[key] = plain_leaf(field) if field else None
            if plan is not None and not node.arguments:
                answer = _answer(plan, source)
                if answer is not Undefined:
                    return answer
        return super().execute_field(parent_type, source, fields, path, *rest)


def _answer(plan: PlainLeaf, source: Any) -> Any:
    """The field's serialized value, or Undefined: take the full path."""
    try:
        value = getattr(source, plan.attribute)
    except Exception:
        return Undefined
    if value is None:
        return None if plan.nullable else Undefined
    if isinstance(value, Exception):
        return Undefined  # graphql-core reports a returned error as the field's error
    try:
        coerced = plan.coerce(value)
    except Exception:
        return Undefined
    return Undefined if coerced is None else coerced
