"""`PlainLeavesExecution` answers plain leaves directly, and every answer (data and
errors) is the one strawberry's own execution gives."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from gateway.schema.execution import PlainLeavesExecution, answers_directly
from gateway.schema.scalars import SCALAR_MAP


@strawberry.enum
class Kind(enum.Enum):
    LEAD = "LEAD"
    WON = "WON"
    LOST = "gone"  # its GraphQL name is not its value


@strawberry.type
class Detail:
    size: int
    label: str  # a detail without it answers the field's non-null error


@strawberry.type
class Other:
    size: int


@answers_directly
def shouted(root: Item, info: Info) -> str | None:
    """A direct leaf: reads the row, the context and the path, as a personal column does."""
    info.context["seen"].append(tuple(info.path.as_list()))
    return None if root.name == "bo" else f"{root.name.upper()}{info.context['suffix']}"


@strawberry.type
class Item:
    name: str
    kind: Kind
    at: datetime
    total: Decimal
    note: str | None
    must: str  # a row without it answers the field's non-null error
    tags: list[str]
    detail: Detail
    maybe: Detail | None
    loud: str | None = strawberry.field(resolver=shouted)
    strict: str = strawberry.field(resolver=shouted)  # type: ignore[assignment]  # bo: an error

    @strawberry.field
    @answers_directly
    def doubled(self) -> int:  # a direct leaf of the row alone
        return len(self.name) * 2

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times


def item(name: str, **changes: Any) -> Item:
    values: dict[str, Any] = {
        "name": name,
        "kind": Kind.WON,
        "at": datetime(2026, 3, 1, 9, tzinfo=UTC),
        "total": Decimal("12.50"),
        "note": None,
        "must": "yes",
        "tags": ["a"],
        "detail": Detail(size=1, label="one"),
        "maybe": None,
    }
    values.update(changes)
    return Item(**values)


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return [
            item("ann", maybe=Detail(size=2, label="two")),
            item("bo", note="vip", kind=Kind.LOST),
            item("cy", must=None),
            item("di", kind="NOT A KIND"),
            item("ed", maybe=Detail(size=3, label=None)),  # type: ignore[arg-type]
            item("fy", detail=Detail(size=4, label=None)),  # type: ignore[arg-type]
            item("gu", maybe=Other(size=5)),
            item("ho", detail=None),
        ]


def schema(
    execution: type[StrawberryGraphQLCoreExecutionContext] | None, extensions: Sequence[Any] = ()
) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        execution_context_class=execution,
        extensions=list(extensions),
    )


QUERY = "{ items { name kind at total note must tags shout(times: 2) } }"


def answer(s: strawberry.Schema, query: str = QUERY) -> tuple[Any, list[tuple[str, Any]]]:
    result = s.execute_sync(query, context_value={"suffix": "!", "seen": []})
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return result.data, errors


def test_every_answer_and_error_is_the_full_paths() -> None:
    data, errors = answer(schema(PlainLeavesExecution))
    assert (data, errors) == answer(schema(None))
    assert data is not None and data["items"][1]["note"] == "vip"
    assert data["items"][1]["kind"] == "LOST"
    assert data["items"][0]["at"] == "2026-03-01T09:00:00+00:00"
    assert data["items"][0]["kind"] == "WON" and data["items"][0]["total"] == "12.50"
    assert data["items"][2] is None and data["items"][3] is None  # their errors
    assert [path for _, path in errors] == [["items", 2, "must"], ["items", 3, "kind"]]


@pytest.fixture
def resolve_infos(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The fields graphql-core built a resolve info for (the full path)."""
    built: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.build_resolve_info

    def counting(self: Any, field_def: Any, *args: Any) -> GraphQLResolveInfo:
        info = original(self, field_def, *args)
        built.append(info.field_name)
        return info

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "build_resolve_info", counting)
    yield built


def test_plain_leaves_skip_the_full_path_and_resolvers_do_not(resolve_infos: list[str]) -> None:
    answer(schema(PlainLeavesExecution), "{ items { name kind total shout } }")
    # the list, each row's resolver field, and the last row's kind, which its enum refuses:
    # the full path reports it, and the row ends there
    assert resolve_infos == ["items", "shout", "shout", "shout", "kind"] + ["shout"] * 4


OBJECTS = "{ items { name detail { size label } maybe { size label } loud strict doubled } }"


def test_objects_and_direct_leaves_answer_as_the_full_path() -> None:
    data, errors = answer(schema(PlainLeavesExecution), OBJECTS)
    assert (data, errors) == answer(schema(None), OBJECTS)
    assert data is not None
    ann, bo, ed, fy, gu, ho = (data["items"][i] for i in (0, 1, 4, 5, 6, 7))
    assert ann["detail"] == {"size": 1, "label": "one"}
    assert ann["maybe"] == {"size": 2, "label": "two"} and ann["loud"] == "ANN!"
    assert ann["doubled"] == 6
    assert bo is None  # its strict null
    assert ed["maybe"] is None  # its label's error ends at the nullable object
    assert fy is None and ho is None  # a non-null detail's error, and a null one
    assert gu["maybe"] is None  # an object of another class: the full path's error
    assert sorted(path for _, path in errors) == [
        ["items", 1, "strict"],
        ["items", 4, "maybe", "label"],
        ["items", 5, "detail", "label"],
        ["items", 6, "maybe", "label"],
        ["items", 7, "detail"],
    ]


def test_objects_and_direct_leaves_skip_the_full_path(resolve_infos: list[str]) -> None:
    context: dict[str, Any] = {"suffix": "?", "seen": []}
    result = schema(PlainLeavesExecution).execute_sync(
        "{ items { detail { size } loud doubled } }", context_value=context
    )
    assert result.data is not None and result.data["items"][0]["loud"] == "ANN?"
    assert result.data["items"][0]["doubled"] == 6
    # only ho's null detail, which may not be null, takes the full path (and errs)
    assert resolve_infos == ["items", "detail"]
    assert context["seen"][0] == ("items", 0, "loud")  # the path the resolver was given


def test_a_schema_extension_that_wraps_resolvers_sees_every_field(
    resolve_infos: list[str],
) -> None:
    seen: list[str] = []

    class Watch(SchemaExtension):
        def resolve(
            self,
            _next: Callable[..., Any],
            root: Any,
            info: GraphQLResolveInfo,
            *args: str,
            **kwargs: Any,
        ) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    data, _ = answer(schema(PlainLeavesExecution, [Watch]), "{ items { name } }")
    assert data is not None and len(data["items"]) == 8
    assert seen == ["items"] + ["name"] * 8


def test_the_gateway_executes_with_it() -> None:
    from gateway.schema import build_schema

    assert build_schema().execution_context_class is PlainLeavesExecution
