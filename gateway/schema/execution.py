"""Plain fields without graphql-core's per-field machinery.

A list page is ~200 fields. graphql-core builds a resolve info for each, strawberry
wraps each resolver (its `Info`, argument conversion, the extension chain) and
`complete_value` walks the field's type. Most fields need none of it:

- a **plain leaf**: an attribute of the view read as it is (`Customer.of` fills them
  once per row), answered with the attribute and its type's `coerce_output_value`, the
  two calls that path ends in (142 of a list page's 206 fields);
- a **plain object**: an attribute holding an object of the field's own type (an
  edge's `node`, a profile's `purchases`), whose sub-selection is executed at once;
- a **direct leaf**: a resolver marked `@answers_directly`, a function of the row
  and of the request only (a personal column: masked for the role and noted for the
  access log), called with a light info that carries the request's context, the
  field's path and the operation: all such a resolver reads.

Only where nothing else could run: a strawberry field with no field extension and no
arguments, no schema extension that wraps resolvers (middleware), and the config's
default `getattr`. Anything else goes the whole way, and so does any value the short
path does not answer (a null where none may be, a value its type refuses, an object of
another type, an error): the full path then runs from the start, with its error and its
location, so an answer never differs (`tests/unit/test_plain_leaves.py` compares them).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple, TypeVar
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    get_nullable_type,
    is_non_null_type,
    version_info,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.cast import get_strawberry_type_cast
from strawberry.types.field import StrawberryField

F = TypeVar("F", bound=Callable[..., Any])
OBJECTS_DIRECTLY = version_info >= (3, 3)
"""Plain objects follow graphql-core 3.3's `execute_field` (its error handling's signature)."""
DIRECT_MARK = "__answers_directly__"


def answers_directly(resolver: F) -> F:
    """Mark a leaf resolver, ``(self)`` or ``(root, info)``, whose info it reads only
    ``context``, ``path`` and ``operation`` of: `PlainLeavesExecution` may call it with
    a `DirectInfo` instead of strawberry's `Info`, outside strawberry's wrapper."""
    setattr(resolver, DIRECT_MARK, True)
    return resolver


class DirectInfo(NamedTuple):
    """What a resolver marked `answers_directly` may read of its info."""

    context: Any
    path: Path
    operation: OperationDefinitionNode


@dataclass(frozen=True, slots=True)
class PlainLeaf:
    attribute: str
    coerce: Any  # the leaf type's `coerce_output_value`
    nullable: bool


@dataclass(frozen=True, slots=True)
class DirectLeaf:
    resolve: Callable[..., Any]
    coerce: Any
    nullable: bool
    with_info: bool  # ``(root, info)``; else ``(self)``


@dataclass(frozen=True, slots=True)
class PlainObject:
    attribute: str
    object_type: GraphQLObjectType
    origin: type[Any]  # values of exactly this class are of the type (no `is_type_of` call)
    field_type: Any  # the field's type, non-null or not, for its errors


Plan = PlainLeaf | DirectLeaf | PlainObject

_PLANS: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], Plan | None]] = WeakKeyDictionary()


def plain_leaf(field: GraphQLField) -> Plan | None:
    """What answers `field` directly, or None where it needs the full path."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if field.args or not isinstance(definition, StrawberryField) or definition.extensions:
        return None
    nullable = not is_non_null_type(field.type)
    of_type = get_nullable_type(field.type)
    leaf = isinstance(of_type, GraphQLScalarType | GraphQLEnumType)
    if definition.base_resolver:
        function = definition.base_resolver.wrapped_func
        if not (leaf and callable(function) and getattr(function, DIRECT_MARK, False)):
            return None
        parameters = list(inspect.signature(function).parameters)
        if parameters not in (["self"], ["root", "info"]):
            return None
        coerce = _coercion(of_type)  # type: ignore[arg-type]
        return DirectLeaf(function, coerce, nullable, with_info=parameters == ["root", "info"])
    if definition.default_resolver is not getattr or not getattr(field.resolve, "_is_default", 0):
        return None
    if isinstance(of_type, GraphQLScalarType | GraphQLEnumType):
        return PlainLeaf(definition.python_name, _coercion(of_type), nullable)
    if isinstance(of_type, GraphQLObjectType) and OBJECTS_DIRECTLY:
        origin = _plain_origin(of_type)
        if origin is not None:
            return PlainObject(definition.python_name, of_type, origin, field.type)
    return None


def _coercion(leaf: GraphQLScalarType | GraphQLEnumType) -> Callable[[Any], Any]:
    """The leaf type's `coerce_output_value`; for a strawberry enum, its members' names
    looked up first (its own coercion scans the values for each one: ~60 a list page)."""
    coerce = leaf.coerce_output_value
    members = getattr(leaf, "wrapped_cls", None)
    if not isinstance(leaf, GraphQLEnumType) or not isinstance(members, type(Enum)):
        return coerce
    names: dict[Any, Any] = {}
    for member in members:
        with contextlib.suppress(Exception):  # not a value of the GraphQL enum
            names[member] = coerce(member)

    def coerce_member(value: Any) -> Any:
        if type(value) is members and value in names:
            return names[value]
        return coerce(value)

    return coerce_member


def _plain_origin(object_type: GraphQLObjectType) -> type | None:
    """The class whose instances are of `object_type` without asking `is_type_of`: a
    strawberry type that defines no `is_type_of` of its own."""
    definition = (object_type.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryObjectDefinition) or definition.is_type_of:
        return None
    return definition.origin


class PlainLeavesExecution(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with plain fields answered directly."""

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
                if isinstance(plan, PlainObject):
                    answer = self._object(plan, source, fields, path, rest)
                else:
                    answer = _answer(plan, source, self, path)
                if answer is not Undefined:
                    return answer
        return super().execute_field(parent_type, source, fields, path, *rest)

    def _object(
        self, plan: PlainObject, source: Any, fields: Any, path: Path, rest: tuple[Any, ...]
    ) -> Any:
        """The sub-selection on the attribute's object, or Undefined: take the full path.

        What `execute_field` does after its resolver, for an object of the field's type:
        the subfields, and an error in them handled as this field's.
        """
        try:
            value = getattr(source, plan.attribute)
        except Exception:
            return Undefined
        if type(value) is not plan.origin or get_strawberry_type_cast(value) is not None:
            return Undefined  # null, an error, another class: the full path decides
        try:
            completed = self.collect_and_execute_subfields(
                plan.object_type, fields, path, value, *rest
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, plan.field_type, fields, path)
            return None
        if self.is_awaitable(completed):
            return self._settle(completed, plan.field_type, fields, path)
        return completed

    async def _settle(self, completed: Any, field_type: Any, fields: Any, path: Path) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_type, fields, path)
            return None


def _answer(
    plan: PlainLeaf | DirectLeaf, source: Any, execution: PlainLeavesExecution, path: Path
) -> Any:
    """The field's serialized value, or Undefined: take the full path."""
    try:
        if isinstance(plan, PlainLeaf):
            value = getattr(source, plan.attribute)
        elif plan.with_info:
            info = DirectInfo(execution.context_value, path, execution.operation)
            value = plan.resolve(source, info)
        else:
            value = plan.resolve(source)
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
