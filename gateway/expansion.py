"""A document whose fragments multiply it is refused before anything validates it.

`fragment A on Viewer { ...B ...B }`, `B` spreading `C` twice, and so on: 18 levels
of an 800-byte document stand for 2^18 selections. Every validator that walks the
operation as executed (strawberry's depth and alias limiters, the cost rule, and
graphql-core's overlapping-fields rule) walks them all, and one such request held the
gateway's event loop for 45 s. So the expanded size is counted first, each fragment
once, and a document over the bound gets QUERY_TOO_COMPLEX without being validated.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import ValidationCache

from gateway.hardening import QUERY_TOO_COMPLEX, per_query_text

_sizes_by_query: dict[str, int] = {}
"""Expanded sizes by query text, per process (an extension instance lives for one
request); bounded as the literals' cache is (`hardening.per_query_text`)."""


def expanded_fields(document: DocumentNode) -> int:
    """The fields of the document's operations with every fragment spread in place.
    Each fragment is counted once (memoized); a spread in a cycle counts 0 (the
    validator's no-cycles rule refuses it, in time linear in the document)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    sizes: dict[str, int] = {}
    entered: set[str] = set()

    def size(selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1 + size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += spread(selection.name.value)
        return total

    def spread(name: str) -> int:
        if name in sizes:
            return sizes[name]
        fragment = fragments.get(name)
        if fragment is None or name in entered:
            return 0
        entered.add(name)
        sizes[name] = size(fragment.selection_set)
        return sizes[name]

    return sum(
        size(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


class BoundedValidation(ValidationCache):
    """strawberry's `ValidationCache`, which runs every validation rule, preceded by the
    expansion bound: a document over `max_fields` expanded fields is not validated."""

    def __init__(self, maxsize: int, max_fields: int) -> None:
        super().__init__(maxsize=maxsize)
        self.max_fields = max_fields

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        fields = expanded_size(context.query, document) if document is not None else 0
        if fields > self.max_fields:
            context.pre_execution_errors = [
                GraphQLError(
                    f"the query expands to {fields:,} fields through its fragments; at most "
                    f"{self.max_fields:,} are allowed",
                    extensions={"code": QUERY_TOO_COMPLEX, "maxFields": self.max_fields},
                )
            ]
            yield
            return
        yield from super().on_validate()


def expanded_size(query: str | None, document: DocumentNode) -> int:
    """`expanded_fields`, counted once per query text."""
    return per_query_text(_sizes_by_query, query, lambda: expanded_fields(document))
