"""The served schema: exported to schemas/schema.graphql, and a superset of the contract.

The contract (shared/contract.graphql, vendored as gateway/contract.graphql) is the
floor: every type, field, argument, input field and enum value in it must be served
with the same type; what the gateway adds to inputs and arguments must be optional.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    build_schema,
    is_non_null_type,
)

from gateway.schema import build_schema as build_served
from schemas.export_sdl import SDL_FILE, main, served_sdl

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = [ROOT / "gateway" / "contract.graphql", ROOT.parent / "shared" / "contract.graphql"]


def test_the_exported_sdl_is_the_served_schema() -> None:
    assert SDL_FILE.read_text() == served_sdl(), "run: python -m schemas.export_sdl"
    assert main(["--check"]) == 0


def optional(value: GraphQLArgument | GraphQLInputField) -> bool:
    """A client may leave it out: nullable, or with a default."""
    node = value.ast_node
    has_default = value.default_value is not Undefined or (
        node is not None and node.default_value is not None
    )
    return not is_non_null_type(value.type) or has_default


def served() -> GraphQLSchema:
    """The served schema as plain graphql-core types (parsed back from its SDL)."""
    return build_schema(build_served().as_str())


@pytest.mark.parametrize(
    "contract", [c for c in CONTRACTS if c.exists()], ids=lambda p: p.parent.name
)
def test_every_name_of_the_contract_is_served_with_its_type(contract: Path) -> None:
    floor = build_schema(contract.read_text())
    schema = served()
    for name, wanted in floor.type_map.items():
        if name.startswith("__"):
            continue
        got = schema.type_map.get(name)
        assert got is not None, f"type {name} is missing"
        assert type(got) is type(wanted), f"{name} is a {type(got).__name__}"
        if isinstance(wanted, GraphQLEnumType):
            assert isinstance(got, GraphQLEnumType)
            assert set(wanted.values) <= set(got.values), name
        elif isinstance(wanted, GraphQLObjectType):
            assert isinstance(got, GraphQLObjectType)
            for field_name, field in wanted.fields.items():
                served_field = got.fields.get(field_name)
                assert served_field is not None, f"{name}.{field_name} is missing"
                assert str(served_field.type) == str(field.type), f"{name}.{field_name}"
                for arg_name, arg in field.args.items():
                    served_arg = served_field.args.get(arg_name)
                    assert served_arg is not None, f"{name}.{field_name}({arg_name}) is missing"
                    assert str(served_arg.type) == str(arg.type), f"{name}.{field_name}({arg_name})"
                    assert served_arg.default_value == arg.default_value, arg_name
                for arg_name, arg in served_field.args.items():
                    if arg_name not in field.args:
                        assert optional(arg), f"added {name}.{field_name}({arg_name})"
        elif isinstance(wanted, GraphQLInputObjectType):
            assert isinstance(got, GraphQLInputObjectType)
            for field_name, field in wanted.fields.items():
                served_field = got.fields.get(field_name)
                assert served_field is not None, f"{name}.{field_name} is missing"
                assert str(served_field.type) == str(field.type), f"{name}.{field_name}"
            for field_name, field in got.fields.items():
                if field_name not in wanted.fields:
                    assert optional(field), f"added {name}.{field_name} must be optional"
        else:
            assert isinstance(got, GraphQLScalarType)


BULK_MUTATIONS = {"importCustomers"}
"""Many streams in one call: idempotent by the file's digest (each row's id and key are
derived from it), with no single stream to expect a version of."""


def test_every_mutation_input_takes_an_idempotency_key_and_an_expected_version() -> None:
    schema = served()
    assert schema.mutation_type is not None
    for name, field in schema.mutation_type.fields.items():
        input_type = field.args["input"].type.of_type
        if name not in BULK_MUTATIONS:
            assert {"idempotencyKey", "expectedVersion"} <= set(input_type.fields), name
        payload = field.type.of_type
        assert str(payload.fields["position"].type) == "Int!", name
