"""What keeps one request from hurting the server, and errors from leaking internals.

- depth, alias and token limits: strawberry's own validators (`QueryDepthLimiter`,
  `MaxAliasesLimiter`, `MaxTokensLimiter`);
- a cost limit (`CostLimit`): each object field costs 1, and a field with a `first`
  argument multiplies the cost of what it selects by that page size (a variable counts
  as the largest page allowed), so aliases of big pages add up and are refused early;
- text that PostgreSQL cannot store (NUL characters, unpaired surrogates) is a
  VALIDATION error before anything runs (`StorableText`);
- lists and strings in the input are bounded (`BoundedInput`: at most
  `MAX_LIST_ITEMS` items, `MAX_STRING_CHARS` characters) before any conversion or
  command runs, so 100,000 tags are a VALIDATION error in milliseconds; the field
  rules (50 tags, 100 lines, 200-character names) then apply in the inputs;
- `ErrorPolicy` masks unexpected errors ("Unexpected error.", code INTERNAL; the
  original is logged by `gateway.logs`, without its message), gives every other error
  a code, and in production drops "Did you mean …?" suggestions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    ValueNode,
    get_named_type,
    get_nullable_type,
    is_input_type,
    is_leaf_type,
    type_from_ast,
)
from graphql.language import Node
from strawberry.extensions import AddValidationRules, MaskErrors, SchemaExtension

from gateway.errors import (
    INTERNAL,
    MASKED_MESSAGE,
    VALIDATION,
    classify,
    input_field,
    should_mask,
)
from gateway.logs import without_suggestions

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
T = TypeVar("T")
MAX_LIST_ITEMS = 200
"""No input list of the contract needs more (tags: 50, purchase lines: 100)."""
MAX_STRING_CHARS = 10_000
"""The longest text field is a complaint description (5,000 characters)."""
LIST_FACTORS = {"complaints": 10, "openNeeds": 10, "consents": 10}
"""Lists without a `first` argument whose length is bounded only by the data."""


def cost_limit(max_cost: int, max_page: int, max_depth: int) -> AddValidationRules:
    """A validation rule refusing operations whose estimated cost exceeds `max_cost`,
    or whose depth, introspection included, exceeds `max_depth` (strawberry's depth
    limiter skips introspection, whose types are cyclic)."""

    class CostRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fragments = {
                d.name.value: d
                for d in context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            schema = self.context.schema
            root = schema.get_root_type(node.operation)
            if root is None:
                return
            depth = self._depth(node.selection_set, set())
            if depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"the query is {depth} levels deep; at most {max_depth} are allowed",
                        node,
                        extensions={"code": QUERY_TOO_COMPLEX, "maxDepth": max_depth},
                    )
                )
                return
            cost = self._cost(schema, root, node.selection_set, set())
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"the query's estimated cost {cost} exceeds the limit of {max_cost}; "
                        "ask for smaller pages or fewer fields",
                        node,
                        extensions={"code": QUERY_TOO_COMPLEX, "cost": cost, "maxCost": max_cost},
                    )
                )

        def _depth(self, selection_set: SelectionSetNode | None, seen: set[str]) -> int:
            if selection_set is None:
                return 0
            deepest = 0
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    below = self._depth(selection.selection_set, seen)
                    deepest = max(deepest, 1 + below if selection.selection_set else 0)
                elif isinstance(selection, InlineFragmentNode):
                    deepest = max(deepest, self._depth(selection.selection_set, seen))
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is not None and name not in seen:
                        deepest = max(deepest, self._depth(fragment.selection_set, seen | {name}))
            return deepest

        def _cost(
            self,
            schema: GraphQLSchema,
            parent: Any,
            selection_set: SelectionSetNode | None,
            seen: set[str],
        ) -> int:
            if selection_set is None or not isinstance(parent, GraphQLObjectType):
                return 0
            total = 0
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    total += self._field_cost(schema, parent, selection, seen)
                elif isinstance(selection, InlineFragmentNode):
                    target = (
                        schema.get_type(selection.type_condition.name.value)
                        if selection.type_condition
                        else parent
                    )
                    total += self._cost(schema, target, selection.selection_set, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is None or name in seen:
                        continue
                    target = schema.get_type(fragment.type_condition.name.value)
                    total += self._cost(schema, target, fragment.selection_set, seen | {name})
            return total

        def _field_cost(
            self, schema: GraphQLSchema, parent: GraphQLObjectType, node: FieldNode, seen: set[str]
        ) -> int:
            definition = parent.fields.get(node.name.value)
            if definition is None:
                return 0
            named = get_named_type(definition.type)
            if is_leaf_type(named):
                return 0
            factor = LIST_FACTORS.get(node.name.value, 1)
            if "first" in definition.args:
                factor = self._first(node, definition.args["first"].default_value, max_page)
            return factor * (1 + self._cost(schema, named, node.selection_set, seen))

        @staticmethod
        def _first(node: FieldNode, default: Any, largest: int) -> int:
            for argument in node.arguments or ():
                if argument.name.value == "first":
                    if isinstance(argument.value, IntValueNode):
                        return max(0, min(int(argument.value.value), largest))
                    return largest
            return default if isinstance(default, int) else largest

    return AddValidationRules([CostRule])


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _bad_variables(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if _bad_text(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _bad_variables(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _bad_variables(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _walk_string_literals(node: Node) -> Iterator[StringValueNode]:
    """Every string literal under `node`, depth first."""
    stack: list[Any] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, StringValueNode):
            yield current
            continue
        if isinstance(current, ValueNode) and not isinstance(
            current, ObjectValueNode | ListValueNode
        ):
            continue
        for key in current.keys:
            child = getattr(current, key, None)
            if isinstance(child, Node):
                stack.append(child)
            elif isinstance(child, tuple | list):
                stack.extend(c for c in child if isinstance(c, Node))


LITERALS_CACHED = 1024
"""Query texts whose literals are remembered, per process (a text's entry holds its
document's literal nodes; `Limits.cache_size`, 256 by default, bounds the parses kept)."""
_literals_by_query: dict[str, tuple[StringValueNode, ...]] = {}


def string_literals(context: Any) -> tuple[StringValueNode, ...]:
    """The string literals of the request's document, found once per query text.

    Clients send the same few documents again and again (`ParserCache` keeps their
    parse), and walking the whole tree twice per request, once per check below, was 12%
    of a 360° profile query's time (bench/NOTES.md, "gateway"). The literals depend on
    the text alone; variables are checked per request.
    """
    document, query = context.graphql_document, context.query
    if document is None:
        return ()
    return per_query_text(_literals_by_query, query, lambda: tuple(_walk_string_literals(document)))


def per_query_text(cache: dict[str, T], query: str | None, work: Callable[[], T]) -> T:
    """`work()`, remembered in `cache` per query text (at most `LITERALS_CACHED` texts,
    the oldest going first); without a text, done each time."""
    found = cache.get(query) if query else None
    if found is None:
        found = work()
        if query:
            if len(cache) >= LITERALS_CACHED:
                del cache[next(iter(cache))]
            cache[query] = found
    return found


class StorableText(SchemaExtension):
    """Refuse text PostgreSQL cannot store, in variables and in literals (see module doc).

    Must come after `ValidationCache` in the extension list: it adds its error to the
    validation errors that extension produced.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        error = None
        if context.variables:
            where = _bad_variables(context.variables, "")
            if where:
                error = GraphQLError(
                    f"variable ${where.lstrip('.')} holds a NUL character or an unpaired surrogate",
                    extensions={"code": VALIDATION, "field": input_field(where.lstrip("."))},
                )
        if error is None:
            literal = next((n for n in string_literals(context) if _bad_text(n.value)), None)
            if literal is not None:
                error = GraphQLError(
                    "a string holds a NUL character or an unpaired surrogate",
                    literal,
                    extensions={"code": VALIDATION},
                )
        if error is not None:
            context.pre_execution_errors = [*(context.pre_execution_errors or []), error]
        yield


class NamedOperation(SchemaExtension):
    """A document of several operations needs `operationName` (GraphQL's "GetOperation";
    strawberry would run the first one, not the one the client may have meant).

    Must come after `ValidationCache`, as `StorableText`."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.operation_name is not None:
            named = getattr(context, "_provided_operation_name", None)
            operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
            if named is None and operations > 1:
                error = GraphQLError(
                    f"operationName is required: the document holds {operations} operations",
                    extensions={"code": VALIDATION, "field": "operationName"},
                )
                context.pre_execution_errors = [*(context.pre_execution_errors or []), error]
        yield


UNBOUNDED_SCALARS = frozenset({"CsvFile"})
"""Scalars a variable may send longer than `MAX_STRING_CHARS` (an uploaded file: the body
limit bounds it, `gateway.schema.imports`)."""


def _oversized(
    value: Any, path: str, kind: GraphQLInputType | None = None
) -> tuple[str, str] | None:
    """(path, rule) of the first list or string over the bounds, or None. `kind`, the
    declared type where known, lets an `UNBOUNDED_SCALARS` value through."""
    named = get_named_type(kind) if kind is not None else None
    if named is not None and named.name in UNBOUNDED_SCALARS:
        return None
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            return path, f"at most {MAX_STRING_CHARS} characters"
        return None
    items: list[tuple[str, Any, GraphQLInputType | None]] = []
    bare = get_nullable_type(kind) if kind is not None else None
    if isinstance(value, dict):
        fields = bare.fields if isinstance(bare, GraphQLInputObjectType) else {}
        items = [
            (f"{path}.{k}", v, fields[k].type if k in fields else None) for k, v in value.items()
        ]
    elif isinstance(value, list):
        if len(value) > MAX_LIST_ITEMS:
            return path, f"at most {MAX_LIST_ITEMS} items"
        of = bare.of_type if isinstance(bare, GraphQLList) else None
        items = [(f"{path}[{i}]", v, of) for i, v in enumerate(value)]
    for where, item, item_kind in items:
        found = _oversized(item, where, item_kind)
        if found:
            return found
    return None


def _oversized_variables(
    variables: dict[str, Any], declared: dict[str, GraphQLInputType]
) -> tuple[str, str] | None:
    for name, value in variables.items():
        found = _oversized(value, f".{name}", declared.get(name))
        if found:
            return found
    return None


class BoundedInput(SchemaExtension):
    """Refuse oversized lists and strings before any work (see module doc).

    Literal lists need no check here: the token limit bounds them.
    """

    @staticmethod
    def _declared(context: Any) -> dict[str, GraphQLInputType]:
        """The operation's variables' declared types (unknown names are left out)."""
        document = context.graphql_document
        schema = context.schema._schema
        declared: dict[str, GraphQLInputType] = {}
        if document is None:
            return declared
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                for variable in definition.variable_definitions or ():
                    kind = type_from_ast(schema, variable.type)
                    if kind is not None and is_input_type(kind):
                        declared[variable.variable.name.value] = cast(GraphQLInputType, kind)
        return declared

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        error = None
        found = (
            _oversized_variables(context.variables, self._declared(context))
            if context.variables
            else None
        )
        if found:
            where, rule = found
            name = where.lstrip(".")
            error = GraphQLError(
                f"variable ${name}: {rule}",
                extensions={"code": VALIDATION, "field": input_field(name)},
            )
        else:
            literal = next(
                (n for n in string_literals(context) if len(n.value) > MAX_STRING_CHARS), None
            )
            if literal is not None:
                error = GraphQLError(
                    f"a string literal is longer than {MAX_STRING_CHARS} characters",
                    literal,
                    extensions={"code": VALIDATION},
                )
        if error is not None:
            context.pre_execution_errors = [*(context.pre_execution_errors or []), error]
        yield


class ErrorPolicy(MaskErrors):
    """Mask what is not ours (code INTERNAL), give everything else a code; without
    `suggestions` (production), drop "Did you mean …?" from messages."""

    def __init__(self, *, suggestions: bool = True) -> None:
        super().__init__(should_mask_error=should_mask, error_message=MASKED_MESSAGE)
        self.suggestions = suggestions

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL}
        return masked

    def _process_result(self, result: object) -> None:
        # Most answers carry no error: skip strawberry's check against a Protocol
        # (typing's isinstance walks the protocol's attributes every time).
        if getattr(result, "errors", None):
            super()._process_result(result)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = [classify(e) for e in super()._process_errors(errors)]
        return processed if self.suggestions else [without_suggestions(e) for e in processed]
